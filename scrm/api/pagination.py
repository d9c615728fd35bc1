from typing import Any

from django.db import DataError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from contacts.api.filters import GIVE_ONCE
from contacts.selectors import InvalidCursor, KeysetPage, keyset_page


def query_value(request: Request, param: str) -> str | None:
    """The one value of a query parameter; given more than once, a 400 (never silently the
    last one)."""
    values = request.query_params.getlist(param)
    if len(values) > 1:
        raise ValidationError({param: [GIVE_ONCE]})
    return values[0] if values else None


def page_size_of(request: Request, *, param: str, default: int, maximum: int) -> int:
    """The page size asked for; anything but a whole number from 1 to `maximum` is a 400
    (never silently replaced by the default)."""
    raw = query_value(request, param)
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= maximum:
        raise ValidationError(
            {param: [_("Enter a whole number from 1 to %(maximum)d.") % {"maximum": maximum}]}
        )
    return size


def page_size_parameter(param: str, *, default: int, maximum: int) -> dict[str, Any]:
    return {
        "name": param,
        "required": False,
        "in": "query",
        "description": f"Rows per page, 1 to {maximum} (default {default}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    }


class IdCursorPagination(CursorPagination):
    """Cursor pagination, newest first: stable under inserts and cheap on big tables."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        return page_size_of(
            request,
            param=self.page_size_query_param,
            default=self.page_size,
            maximum=self.max_page_size,
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        cursor, _page_size = super().get_schema_operation_parameters(view)
        page_size = page_size_parameter(
            self.page_size_query_param, default=self.page_size, maximum=self.max_page_size
        )
        return [cursor, page_size]

    def decode_cursor(self, request: Request) -> Any:
        # DRF answers a forged cursor with 404; it is a bad parameter (400), named.
        query_value(request, self.cursor_query_param)  # given once, or a 400
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {self.cursor_query_param: [_("Invalid cursor: follow the `next` link.")]}
            ) from None


class KeysetPagination(BasePagination):
    """Keyset pagination over a queryset ordered descending by non-null fields ending in -id.

    A page is one index range scan whatever its depth (no OFFSET, no COUNT), so it stays fast
    on tables of tens of millions of rows. The response is `{"next": url|null, "results"}`.
    """

    page_size = 50
    max_page_size = 200
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def __init__(self) -> None:
        self.page: KeysetPage[Any] | None = None
        self.request: Request | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        cursor = query_value(request, self.cursor_query_param) or ""
        size = self.get_page_size(request)
        try:
            if cursor:
                # A forged cursor may carry values PostgreSQL refuses (out of range): keep
                # the failure inside a savepoint and answer 400, never 500.
                with transaction.atomic():
                    self.page = keyset_page(queryset, after=cursor, size=size)
            else:
                self.page = keyset_page(queryset, size=size)
        except (InvalidCursor, DataError):
            raise ValidationError(
                {self.cursor_query_param: [_("Invalid cursor: follow the `next` link.")]}
            ) from None
        return self.page.items

    def get_page_size(self, request: Request) -> int:
        return page_size_of(
            request,
            param=self.page_size_query_param,
            default=self.page_size,
            maximum=self.max_page_size,
        )

    def get_next_link(self) -> str | None:
        if self.page is None or not self.page.next_cursor or self.request is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.page.next_cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "The next page (same filters), or null on the last page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from the previous page's `next` link.",
                "schema": {"type": "string"},
            },
            page_size_parameter(
                self.page_size_query_param, default=self.page_size, maximum=self.max_page_size
            ),
        ]
