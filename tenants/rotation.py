"""Re-encrypting every stored credential under the first of SCRM_ENCRYPTION_KEYS.

Rotation without downtime:
1. put a new key first in SCRM_ENCRYPTION_KEYS, keep the old one after it, restart: new
   values are written with the new key, old values still decrypt;
2. `manage.py encryption_rotate`: every encrypted column of the public schema and of every
   tenant schema is encrypted again with the new key (row by row, each row its own UPDATE,
   so it can be interrupted and run again);
3. `manage.py encryption_rotate --check` exits non-zero while any value still needs an old
   key; once it passes, remove the old key and restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import connection
from django_tenants.utils import get_public_schema_name

from scrm.encryption import PREFIX, EncryptedTextField, readable_with_first_key, rotated
from tenants.models import Tenant


@dataclass
class ColumnReport:
    schema: str
    table: str
    column: str
    values: int = 0
    rotated: int = 0
    needing_old_key: int = 0


def encrypted_columns() -> list[tuple[str, str]]:
    """(table, column) of every EncryptedTextField of every installed model."""
    columns = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                columns.append((model._meta.db_table, field.column))
    return sorted(set(columns))


def _schemas() -> list[str]:
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    tenants = Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("id")
    return [get_public_schema_name(), *tenants.values_list("schema_name", flat=True)]


def _existing(schema: str, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [schema, table],
        )
        return cursor.fetchone() is not None


def _rows(schema: str, table: str, column: str) -> Iterator[tuple[int, str]]:
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {qn(column)} FROM {qn(schema)}.{qn(table)} "  # noqa: S608 (quoted names)
            f"WHERE {qn(column)} LIKE %s ORDER BY id",
            [PREFIX + "%"],
        )
        yield from cursor.fetchall()


def encryption_rotate(*, check_only: bool = False) -> list[ColumnReport]:
    qn = connection.ops.quote_name
    reports = []
    columns = encrypted_columns()
    for schema in _schemas():
        for table, column in columns:
            if not _existing(schema, table):
                continue
            report = ColumnReport(schema=schema, table=table, column=column)
            for pk, stored in _rows(schema, table, column):
                report.values += 1
                if readable_with_first_key(stored):
                    continue
                if check_only:
                    report.needing_old_key += 1
                    continue
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {qn(schema)}.{qn(table)} SET {qn(column)} = %s "  # noqa: S608
                        f"WHERE id = %s AND {qn(column)} = %s",
                        [rotated(stored), pk, stored],
                    )
                    report.rotated += cursor.rowcount
            reports.append(report)
    return reports
