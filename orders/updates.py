"""Updating many rows' fields in one statement.

Django's bulk_update builds a CASE per row and field: re-importing 2,000 orders took 15 s
in bench/orders.py, nearly all of it there. `rows_update` sends one
`UPDATE … FROM (VALUES …)` per 1,000 rows instead.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from psycopg2.extras import execute_values

PAGE = 1000


def rows_update(model: type[models.Model], rows: Sequence[models.Model], fields: list[str]) -> int:
    """Write `fields` of these saved rows (their current attribute values); returns the
    number of rows. Field names as for bulk_update (a foreign key by its name)."""
    if not rows:
        return 0
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    assert all(isinstance(f, models.Field) and f.concrete for f in columns), fields
    concrete: list[models.Field[Any, Any]] = columns  # type: ignore[assignment]
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in concrete)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in concrete)
    casts = ", ".join(f"%s::{f.db_type(connection)}" for f in concrete)
    pk_type = meta.pk.db_type(connection) if meta.pk is not None else "bigint"
    values = [
        (row.pk, *(f.get_db_prep_save(getattr(row, f.attname), connection) for f in concrete))
        for row in rows
    ]
    with connection.cursor() as cursor:
        execute_values(
            cursor.cursor,
            f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 - our names
            f"FROM (VALUES %s) AS v (id, {names}) WHERE t.id = v.id",
            values,
            template=f"(%s::{pk_type}, {casts})",
            page_size=PAGE,
        )
    return len(rows)
