"""OpenAPI post-processing: the answers every operation can give, documented once.

Every operation can answer 401 (no or bad key) and 429 (the key's rate limit); one with a
path parameter, 404; one taking query parameters or a body, 400 with the offending fields
named; one taking a body, 415 for a Content-Type it does not read. Views document their
own specific errors; this fills in what they leave out, so the schema lists every status
the API really sends.
"""

from typing import Any

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# Each bad field (or `non_field_errors`) with its messages; nested fields nest.
FIELD_ERRORS = {"type": "object", "additionalProperties": {}}
COMMON = {
    "401": ("Missing, malformed, unknown or revoked API key.", ERROR),
    "429": ("Over the key's rate limit: retry after `Retry-After` seconds.", ERROR),
}
METHODS = {"get", "post", "put", "patch", "delete"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document_common_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, (description, schema) in COMMON.items():
                responses.setdefault(status, _json(description, schema))
            if "{" in path:
                responses.setdefault("404", _json("No such object in this brand.", ERROR))
            if method != "get" and method != "delete":
                responses.setdefault("403", _json("A read-only key tried to write.", ERROR))
            if "requestBody" in operation:
                responses.setdefault(
                    "415", _json("The body's Content-Type is not one this operation reads.", ERROR)
                )
            has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
            if has_query or "requestBody" in operation or "{" in path:
                responses.setdefault(
                    "400", _json("A bad parameter or field, each one named.", FIELD_ERRORS)
                )
    return result
