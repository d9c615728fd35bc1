"""The API's JSON parser: a body PostgreSQL could not store is refused as a whole."""

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def holds_nul(value: Any) -> bool:
    """Whether a NUL character is anywhere in parsed JSON, in a key or a string."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False


class NulRefusingJSONParser(JSONParser):
    """JSON with `\\u0000` anywhere answers 400: PostgreSQL's text and jsonb cannot hold
    it, and free-form fields (event properties, order items) would fail only on saving."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if holds_nul(data):
            raise ParseError(_("The JSON body may not contain NUL characters (\\u0000)."))
        return data
