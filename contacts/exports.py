"""CSV export of the customers list: streamed, one row per relation, in keyset chunks.

Never holds more than one chunk of customers (and their relations) in memory, so an export
of millions of relations streams at a steady size. UTF-8 with a BOM, so Excel opens the
Chinese columns correctly.
"""

import csv
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from contacts.models import Customer, Relation
from contacts.selectors import CustomerFilters, customer_list, keyset_page

CHUNK_SIZE = 2000
BOM = "\ufeff"
# Cells Excel would run as a formula (CSV injection): a WeChat nickname is user input.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def customer_export_header() -> list[str]:
    return [
        _("External userid"),
        _("Name"),
        _("Customer type"),
        _("Gender"),
        _("Guide userid"),
        _("Guide name"),
        _("Store"),
        _("Remark"),
        _("Description"),
        _("Remark phones"),
        _("How added"),
        _("Channel state"),
        _("Added at"),
        _("Relation status"),
    ]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def customer_export_row(customer: Customer, relation: Relation) -> list[str]:
    guide = relation.guide
    return [
        _cell(value)
        for value in (
            customer.external_userid,
            customer.name,
            customer.get_type_display(),
            customer.get_gender_display(),
            guide.userid,
            guide.name,
            guide.store.name if guide.store is not None else "",
            relation.remark,
            relation.description,
            ";".join(relation.remark_mobiles),
            relation.get_add_way_display(),
            relation.state,
            _local(relation.added_at),
            relation.get_status_display(),
        )
    ]


def customer_export_lines(
    filters: CustomerFilters, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[str]:
    """CSV text (BOM and header first) for every relation of the filtered customers.

    The chunks are read while the response streams, after the view has returned: the tenant
    schema and the language are captured here, at call time, and restored around each chunk.
    """
    schema: str = getattr(connection, "schema_name", "public")
    language = translation.get_language()
    return _lines(filters, chunk_size=chunk_size, schema=schema, language=language)


def _lines(
    filters: CustomerFilters, *, chunk_size: int, schema: str, language: str | None
) -> Iterator[str]:
    writer = csv.writer(_Echo())
    with translation.override(language):
        header = writer.writerow(customer_export_header())
    yield BOM + header
    after = ""
    while True:
        with schema_context(schema), translation.override(language):
            page = keyset_page(customer_list(filters), after=after, size=chunk_size)
            chunk = "".join(
                writer.writerow(customer_export_row(customer, relation))
                for customer in page.items
                for relation in customer.relations.all()
            )
        if chunk:
            yield chunk
        if not page.next_cursor:
            return
        after = page.next_cursor
