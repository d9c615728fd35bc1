"""Reads of the operator dashboard. Relation numbers come from the daily tables only
(dashboard.models), never from the relations: the growth is one GROUP BY over the range's
days; a ranking sums the range's whole months from the month tables and its edge days from
the day tables, then one query names the ten rows shown. The page therefore costs the same
queries whatever the tenant's size.

Definitions (also in docs/dashboard.md):

- adds: relations added (a customer who adds two guides counts twice, as in WeCom's own
  contact statistics); a handover's takeover is not an add;
- lost: relations deleted by the customer, deleted by the guide, or found gone by a sync;
  a handover is not a loss;
- net growth: adds - lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from broadcast.models import Broadcast, Delivery
from channels_qr.selectors import STATS_DAYS_MAX
from contacts.models import Guide, Store
from dashboard.aggregates import COUNT_COLUMNS, next_month
from dashboard.models import RefreshState, StoreDay
from handover.models import Handover
from handover.selectors import handover_item_counts

DAYS_MAX = STATS_DAYS_MAX  # the channel stats' range (dashboard.forms)
TOP = 10
HANDOVERS_SHOWN = 5
SENDS_SHOWN = 10


@dataclass(frozen=True)
class DashboardFilters:
    """Local days `start`..`end` (both included) and a store (None: every store)."""

    start: date
    end: date
    store_id: int | None = None

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass
class Counts:
    adds: int = 0
    transferred_in: int = 0
    deleted_by_customer: int = 0
    deleted_by_guide: int = 0
    vanished: int = 0
    transferred_out: int = 0

    @property
    def lost(self) -> int:
        return self.deleted_by_customer + self.deleted_by_guide + self.vanished

    @property
    def net(self) -> int:
        return self.adds - self.lost

    def add(self, other: Counts) -> None:
        for column in COUNT_COLUMNS:
            setattr(self, column, getattr(self, column) + getattr(other, column))

    @classmethod
    def of(cls, values: dict[str, Any]) -> Counts:
        return cls(**{column: int(values.get(column) or 0) for column in COUNT_COLUMNS})


@dataclass
class DayRow(Counts):
    day: date | None = None


@dataclass
class ChannelRow(Counts):
    channel_id: int = 0
    name: str = ""


@dataclass
class GuideRow(Counts):
    guide_id: int = 0
    name: str = ""
    userid: str = ""
    store: str = ""


@dataclass
class RelationNumbers:
    """The dashboard's relation numbers for one filter: what the aggregates and a direct
    count of the relations (dashboard.direct) must agree on."""

    days: list[DayRow] = field(default_factory=list)
    channels: list[ChannelRow] = field(default_factory=list)
    guides_by_adds: list[GuideRow] = field(default_factory=list)
    guides_by_lost: list[GuideRow] = field(default_factory=list)

    @property
    def total(self) -> Counts:
        total = Counts()
        for row in self.days:
            total.add(row)
        return total


# --- relation numbers from the daily tables -----------------------------------------------


def _scoped(queryset: QuerySet[Any], filters: DashboardFilters) -> QuerySet[Any]:
    queryset = queryset.filter(day__gte=filters.start, day__lte=filters.end)
    if filters.store_id is not None:
        queryset = queryset.filter(store_id=filters.store_id)
    return queryset.order_by()


def _sums() -> dict[str, Any]:
    return {column: Sum(column) for column in COUNT_COLUMNS}


def day_rows(filters: DashboardFilters, per_day: dict[date, dict[str, Any]]) -> list[DayRow]:
    """One row per day of the range, zeros for days without numbers."""
    return [DayRow(day=day, **vars(Counts.of(per_day.get(day, {})))) for day in filters.days]


def channel_rows(rows: list[dict[str, Any]]) -> list[ChannelRow]:
    """Ranked channel sums with the channels' names (one query)."""
    from channels_qr.models import Channel

    names = dict(
        Channel.objects.filter(pk__in=[r["channel_id"] for r in rows]).values_list("pk", "name")
    )
    return [
        ChannelRow(channel_id=r["channel_id"], name=names.get(r["channel_id"], ""), **_counts(r))
        for r in rows
    ]


def guide_rows(*rankings: list[dict[str, Any]]) -> list[list[GuideRow]]:
    """Ranked guide sums with the guides' names and stores (one query for all rankings)."""
    ids = {r["guide_id"] for ranking in rankings for r in ranking}
    guides = {g.pk: g for g in Guide.objects.filter(pk__in=ids).select_related("store")}

    def row(values: dict[str, Any]) -> GuideRow:
        guide = guides.get(values["guide_id"])
        return GuideRow(
            guide_id=values["guide_id"],
            name=guide.name if guide else "",
            userid=guide.userid if guide else "",
            store=guide.store.name if guide and guide.store else "",
            **_counts(values),
        )

    return [[row(values) for values in ranking] for ranking in rankings]


def _counts(values: dict[str, Any]) -> dict[str, int]:
    return vars(Counts.of(values))


def range_parts(filters: DashboardFilters, today: date) -> tuple[list[date], list[date | None]]:
    """The range as whole months (their first days) and at most two runs of days around
    them (`[first, last, first, last]`, None where there is no run). A month counts as whole
    when the range holds all its days, or all of them up to today (nothing is counted after
    today)."""
    months: list[date] = []
    month = filters.start if filters.start.day == 1 else next_month(filters.start)
    while month <= filters.end and (
        next_month(month) - timedelta(days=1) <= filters.end or filters.end >= today
    ):
        months.append(month)
        month = next_month(month)
    if not months:
        return [], [filters.start, filters.end, None, None]
    head: list[date | None] = [None, None]
    if filters.start < months[0]:
        head = [filters.start, months[0] - timedelta(days=1)]
    after = next_month(months[-1])
    tail: list[date | None] = [after, filters.end] if after <= filters.end else [None, None]
    return months, [*head, *tail]


_SUMS_SQL = ", ".join(f"sum({column}) AS {column}" for column in COUNT_COLUMNS)
_COLUMNS_SQL = ", ".join(COUNT_COLUMNS)
_LOST_SQL = "deleted_by_customer + deleted_by_guide + vanished"


def _parts_sql(key: str, table: str, select: str) -> str:
    """A range's rows, its whole months from the month table and its edge days from the day
    table (index ranges of their covering indexes), summed per `key` into `sums`, then
    `select`. `{store}` is left for the store condition."""
    return f"""
WITH parts AS (
    SELECT {key}, {_COLUMNS_SQL} FROM dashboard_{table}month
    WHERE day = ANY(%(months)s::date[]) {{store}}
    UNION ALL
    SELECT {key}, {_COLUMNS_SQL} FROM dashboard_{table}day
    WHERE (day BETWEEN %(first)s AND %(last)s OR day BETWEEN %(first2)s AND %(last2)s) {{store}}
), sums AS MATERIALIZED (
    SELECT {key}, {_SUMS_SQL} FROM parts GROUP BY {key}
)
{select}
"""  # noqa: S608 - built from constants


# Both guide rankings from one pass: the guides' sums once, then the top of each.
RANKINGS_SQL = _parts_sql(
    "guide_id",
    "guide",
    f"""(SELECT 'adds', * FROM sums WHERE adds > 0 ORDER BY adds DESC, guide_id LIMIT %(top)s)
UNION ALL
(SELECT 'lost', * FROM sums WHERE {_LOST_SQL} > 0
 ORDER BY {_LOST_SQL} DESC, guide_id LIMIT %(top)s)""",  # noqa: S608 - constants
)
CHANNELS_SQL = _parts_sql(
    "channel_id",
    "channel",
    "SELECT * FROM sums WHERE adds > 0 ORDER BY adds DESC, channel_id LIMIT %(top)s",
)


def _ranked(sql: str, filters: DashboardFilters, top: int, today: date) -> list[tuple[Any, ...]]:
    months, days = range_parts(filters, today)
    store = "AND store_id = %(store)s" if filters.store_id is not None else ""
    params = {
        "months": months,
        "first": days[0],
        "last": days[1],
        "first2": days[2],
        "last2": days[3],
        "store": filters.store_id,
        "top": top,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql.format(store=store), params)
        return cursor.fetchall()


def relation_numbers(
    filters: DashboardFilters, *, top: int = TOP, today: date | None = None
) -> RelationNumbers:
    """Growth per day, top channels by adds, guides ranked by adds and by losses: three
    queries on the daily and monthly tables and the names of what is shown."""
    today = today or timezone.localdate()
    per_day = {
        row["day"]: row
        for row in _scoped(StoreDay.objects.all(), filters).values("day").annotate(**_sums())
    }
    columns = ("channel_id", *COUNT_COLUMNS)
    channels = [
        dict(zip(columns, row, strict=True)) for row in _ranked(CHANNELS_SQL, filters, top, today)
    ]
    rankings: dict[str, list[dict[str, Any]]] = {"adds": [], "lost": []}
    for ranking, *values in _ranked(RANKINGS_SQL, filters, top, today):
        rankings[ranking].append(dict(zip(("guide_id", *COUNT_COLUMNS), values, strict=True)))
    guides_by_adds, guides_by_lost = guide_rows(rankings["adds"], rankings["lost"])
    return RelationNumbers(
        days=day_rows(filters, per_day),
        channels=channel_rows(channels),
        guides_by_adds=guides_by_adds,
        guides_by_lost=guides_by_lost,
    )


# --- the rest of the page -------------------------------------------------------------------


def store_choices() -> list[tuple[int, str]]:
    return list(Store.objects.order_by("order", "department_id").values_list("pk", "name"))


def refresh_state() -> RefreshState | None:
    return RefreshState.objects.order_by("pk").first()


def handovers_in_progress(limit: int = HANDOVERS_SHOWN) -> list[dict[str, Any]]:
    """Open handovers (proposed, sending, waiting), newest first, with item counts."""
    handovers = list(
        Handover.objects.filter(status__in=Handover.OPEN_STATUSES)
        .prefetch_related("from_guides")
        .order_by("-created_at", "-id")[:limit]
    )
    counts = handover_item_counts(h.pk for h in handovers)
    return [{"handover": h, "counts": counts[h.pk]} for h in handovers]


def week_start(today: date | None = None) -> datetime:
    """Monday 00:00 of this week, local time."""
    today = today or timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    return timezone.make_aware(datetime.combine(monday, time.min))


def group_sends_this_week(*, today: date | None = None, limit: int = SENDS_SHOWN) -> dict[str, Any]:
    """Group sends created or started this week, newest first, with their delivery counts
    as last recorded (Broadcast.counts): one query."""
    since = week_start(today)
    sends = list(
        Broadcast.objects.filter(Q(created_at__gte=since) | Q(dispatched_at__gte=since))
        .exclude(status=Broadcast.Status.DRAFT)
        .order_by("-created_at", "-id")
    )
    excluded = {str(s) for s in Delivery.EXCLUDED}
    rows = []
    for send in sends:
        counts = {str(k): int(v) for k, v in (send.counts or {}).items()}
        rows.append(
            {
                "broadcast": send,
                "recipients": sum(n for s, n in counts.items() if s not in excluded),
                "sent": counts.get(Delivery.Status.SENT, 0),
            }
        )
    return {
        "since": since,
        "rows": rows[:limit],
        "count": len(rows),
        "recipients": sum(r["recipients"] for r in rows),
        "sent": sum(r["sent"] for r in rows),
    }
