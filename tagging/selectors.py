"""Reads of the tag catalogue: groups with their tags, customer counts, the change history.

Customer counts come from one aggregate over every relation's `wecom_tag_ids`. That is a
scan of the relation table, so the result is cached for a minute per tenant and never
invalidated: pages say "counts refresh every minute". The count shown before a delete is
exact (`tag_customer_count`), because it is the number the operator decides on.
"""

from collections.abc import Iterable

from django.core.cache import cache
from django.db import connection
from django.db.models import Prefetch, QuerySet

from contacts.models import Relation
from tagging.models import Tag, TagChange, TagGroup

CUSTOMER_COUNTS_TTL = 60  # seconds


def tag_group_list() -> QuerySet[TagGroup]:
    """Every group with its tags prefetched, both in WeCom's order (higher order first)."""
    return TagGroup.objects.order_by("-order", "id").prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("-order", "id"))
    )


def tag_group_get(*, group_id: str) -> TagGroup:
    """One group by WeCom group id, with its tags; raises TagGroup.DoesNotExist."""
    return tag_group_list().get(group_id=group_id)


def tag_get(*, tag_id: str) -> Tag:
    """One tag by WeCom tag id, with its group; raises Tag.DoesNotExist."""
    return Tag.objects.select_related("group").get(tag_id=tag_id)


def tag_options() -> list[Tag]:
    """Every tag with its group, groups and tags in WeCom's order: one query (at most
    3,000 rows, WeCom's limit), for pickers."""
    return list(
        Tag.objects.select_related("group").order_by("-group__order", "group_id", "-order", "id")
    )


def tags_by_ids(ids: Iterable[str]) -> dict[str, Tag]:
    """The catalogue's tags among `ids` (with their groups), by WeCom tag id. Ids the
    catalogue does not know are left out; no query when `ids` is empty."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {
        tag.tag_id: tag for tag in Tag.objects.select_related("group").filter(tag_id__in=wanted)
    }


def _customer_counts_key() -> str:
    # The cache's key function prefixes the schema too; naming it here keeps the key
    # tenant-scoped whatever the cache settings.
    schema = getattr(connection, "schema_name", "public")
    return f"tagging:tag-customer-counts:{schema}"


def tag_customer_counts() -> dict[str, int]:
    """{tag_id: distinct customers carrying the tag on any of their relations}, from one
    aggregate query, cached for CUSTOMER_COUNTS_TTL seconds per tenant."""
    key = _customer_counts_key()
    counts: dict[str, int] | None = cache.get(key)
    if counts is not None:
        return counts
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT tag_id, count(DISTINCT relation.customer_id)
            FROM {Relation._meta.db_table} AS relation
            CROSS JOIN LATERAL unnest(relation.wecom_tag_ids) AS tag_id
            GROUP BY tag_id
            """  # noqa: S608 - the table name is ours, not input
        )
        counts = {str(tag_id): int(count) for tag_id, count in cursor.fetchall()}
    cache.set(key, counts, CUSTOMER_COUNTS_TTL)
    return counts


def tag_customer_count(*, tag_ids: list[str]) -> int:
    """Distinct customers carrying any of `tag_ids` on any relation, counted now (uncached)."""
    if not tag_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(DISTINCT customer_id)
            FROM {Relation._meta.db_table}
            WHERE wecom_tag_ids && %s::varchar[]
            """,  # noqa: S608 - the table name is ours, not input
            [list(tag_ids)],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def tag_change_list(*, limit: int) -> list[TagChange]:
    """The latest changes of the catalogue, newest first (here, in the API or in WeCom)."""
    return list(TagChange.objects.order_by("-at", "-id")[:limit])
