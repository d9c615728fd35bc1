"""The dashboard's relation numbers counted straight from the relations, the slow way.

What the daily tables must agree with (`dashboard_backfill --check`, the tests, and the
baseline of bench/dashboard.py). Written independently of dashboard.aggregates, with the
ORM: GROUP BYs over `contacts_relation` joined to the guides for the store filter, a
handover's takeover recognised by an EXISTS on the customer's transferred relation.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from contacts.models import Relation
from dashboard.aggregates import start_of
from dashboard.selectors import (
    TOP,
    DashboardFilters,
    RelationNumbers,
    channel_rows,
    day_rows,
    guide_rows,
)

ENDED = {
    Relation.Status.DELETED_BY_CUSTOMER: "deleted_by_customer",
    Relation.Status.DELETED_BY_GUIDE: "deleted_by_guide",
    Relation.Status.VANISHED: "vanished",
    Relation.Status.TRANSFERRED: "transferred_out",
}


def _relations(filters: DashboardFilters) -> QuerySet[Relation]:
    relations = Relation.objects.order_by()
    if filters.store_id is not None:
        relations = relations.filter(guide__store_id=filters.store_id)
    return relations


def _events(filters: DashboardFilters, key: str) -> dict[Any, dict[str, int]]:
    """Counts per `key` ("day", "channel_id" or "guide_id") over the range."""
    tz = timezone.get_current_timezone()
    since, until = start_of(filters.start), start_of(filters.end + timedelta(days=1))
    taken_over = Relation.objects.filter(
        customer_id=OuterRef("customer_id"),
        status=Relation.Status.TRANSFERRED,
        deleted_at=OuterRef("added_at"),
    )
    added = (
        _relations(filters)
        .filter(added_at__gte=since, added_at__lt=until)
        .annotate(day=TruncDate("added_at", tzinfo=tz), transfer=Exists(taken_over))
        .values(key)
        .annotate(
            adds=Count("id", filter=Q(transfer=False)),
            transferred_in=Count("id", filter=Q(transfer=True)),
        )
    )
    ended = (
        _relations(filters)
        .exclude(status=Relation.Status.ACTIVE)
        .annotate(gone_at=Coalesce(F("deleted_at"), F("status_changed_at")))
        .filter(gone_at__gte=since, gone_at__lt=until)
        .annotate(day=TruncDate("gone_at", tzinfo=tz))
        .values(key)
        .annotate(**{column: Count("id", filter=Q(status=s)) for s, column in ENDED.items()})
    )
    result: dict[Any, dict[str, int]] = {}
    for row in [*added, *ended]:
        target = result.setdefault(row[key], {})
        for column, value in row.items():
            if column != key:
                target[column] = target.get(column, 0) + value
    return result


def _ranked(
    rows: dict[Any, dict[str, int]], key: str, score: Any, top: int
) -> list[dict[str, Any]]:
    ranked = [{key: k, **v} for k, v in rows.items() if k is not None and score(v) > 0]
    ranked.sort(key=lambda r: (-score(r), r[key]))
    return ranked[:top]


def _lost(values: dict[str, int]) -> int:
    return sum(values.get(c, 0) for c in ("deleted_by_customer", "deleted_by_guide", "vanished"))


def direct_numbers(filters: DashboardFilters, *, top: int = TOP) -> RelationNumbers:
    """The same RelationNumbers as dashboard.selectors.relation_numbers, from the relations."""
    per_day: dict[date, dict[str, Any]] = _events(filters, "day")
    channels = _events(filters, "channel_id")
    guides = _events(filters, "guide_id")
    by_adds, by_lost = guide_rows(
        _ranked(guides, "guide_id", lambda v: v.get("adds", 0), top),
        _ranked(guides, "guide_id", _lost, top),
    )
    return RelationNumbers(
        days=day_rows(filters, per_day),
        channels=channel_rows(_ranked(channels, "channel_id", lambda v: v.get("adds", 0), top)),
        guides_by_adds=by_adds,
        guides_by_lost=by_lost,
    )


def numbers_differences(aggregated: RelationNumbers, direct: RelationNumbers) -> list[str]:
    """Where the two disagree, in words (empty: they agree)."""
    differences = []
    for name in ("days", "channels", "guides_by_adds", "guides_by_lost"):
        mine, theirs = getattr(aggregated, name), getattr(direct, name)
        if mine == theirs:
            continue
        if len(mine) != len(theirs):
            differences.append(f"{name}: {len(mine)} rows aggregated, {len(theirs)} counted")
            continue
        for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            if a != b:
                differences.append(f"{name}[{index}]: aggregated {a}, counted {b}")
                break
    return differences
