"""Every log record carries the tenant and the request (or task) id (the LOGGING setting
itself is built by scrm.observability.logconfig)."""

import logging
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse

from scrm.observability.context import (
    request_id,
    request_id_from_header,
    request_id_reset,
    request_id_set,
)

REQUEST_ID_HEADER = "X-Request-ID"


def current_tenant() -> str:
    """The schema the database connection is on ("public" on the platform host, "-" when no
    connection was ever opened in this thread)."""
    schema = getattr(connection, "schema_name", None)
    return str(schema) if schema else "-"


class ContextFilter(logging.Filter):
    """Adds `tenant` and `request_id` to every record (set by the handler, so libraries'
    records get them too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "tenant"):
            try:
                record.tenant = current_tenant()
            except Exception:  # a broken connection must not break logging
                record.tenant = "-"
        if not hasattr(record, "request_id"):
            record.request_id = request_id() or "-"
        return True


class RequestIdMiddleware:
    """Gives each request an id (the proxy's X-Request-ID when acceptable), for its log
    records and in the response's X-Request-ID header, so a user's report can be found."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        value = request_id_from_header(request.headers.get(REQUEST_ID_HEADER))
        token = request_id_set(value)
        try:
            response = self.get_response(request)
        finally:
            request_id_reset(token)
        response.headers[REQUEST_ID_HEADER] = value
        return response
