"""Building the dashboard's daily tables (dashboard.models) from the relations.

A refresh rebuilds whole days: it deletes their rows and counts them again from
`contacts_relation` in one statement, so it is idempotent and a rerun fixes any drift.
What a day counts, per relation (local days, Asia/Shanghai):

- added that day (`added_at`): an add, or `transferred_in` when the relation is the copy a
  handover made for the takeover guide (the customer's other relation was transferred at
  that very instant, see handover.transfer.relations_move);
- ended that day (`deleted_at`, else the status change): `deleted_by_customer`,
  `deleted_by_guide`, `vanished` (a full sync found it gone) or `transferred_out`.

A handover therefore moves a customer from one guide's column to another's without counting
as an add or a loss. The numbers describe the relations as they are when the day is
refreshed: a relation re-added later moves its add to the new day on the next refresh of
both days (a backfill, or the periodic refresh while both are recent).

Which days: every few minutes today and yesterday, plus the days of relations created since
the last refresh (a sync brings relations added long ago; the first refresh of a tenant
thus builds its whole history); nightly the last 7 days (a callback backlog, late handover
results); `dashboard_backfill` any range.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dashboard.models import COUNTS, RefreshState

COUNT_COLUMNS = tuple(COUNTS)
# What the `what` of an event (below) counts as.
COLUMN_OF = {
    "added": "adds",
    "transferred_in": "transferred_in",
    "deleted_by_customer": "deleted_by_customer",
    "deleted_by_guide": "deleted_by_guide",
    "vanished": "vanished",
    "transferred": "transferred_out",
}
RECENT_DAYS = 2  # today and yesterday, every few minutes
NIGHTLY_DAYS = 7
MAX_RUNS = 8  # more separate runs of days than this: one range from the first to today

_COUNTS = ",\n".join(
    f"count(*) FILTER (WHERE what = '{what}') AS {column}" for what, column in COLUMN_OF.items()
)
_SUMS = ", ".join(f"sum({column})" for column in COUNT_COLUMNS)
_COLUMNS = ", ".join(COUNT_COLUMNS)

DELETE_SQL = """
WITH guides AS (
    DELETE FROM dashboard_guideday WHERE day BETWEEN %(first)s AND %(last)s
), channels AS (
    DELETE FROM dashboard_channelday WHERE day BETWEEN %(first)s AND %(last)s
)
DELETE FROM dashboard_storeday WHERE day BETWEEN %(first)s AND %(last)s
"""

# The relations' events of [since, until), counted per day x guide x channel once, then
# summed into the three tables. The deletions are read through dashboard_relation_ended_at
# (the same COALESCE expression), the adds through relation_added.
INSERT_SQL = f"""
WITH moved AS (
    SELECT DISTINCT customer_id, deleted_at
    FROM contacts_relation
    WHERE status = 'transferred'
      AND COALESCE(deleted_at, status_changed_at) >= %(since)s
      AND COALESCE(deleted_at, status_changed_at) < %(until)s
), events AS (
    SELECT (r.added_at AT TIME ZONE %(tz)s)::date AS day, r.guide_id, r.channel_id,
           CASE WHEN m.customer_id IS NULL THEN 'added' ELSE 'transferred_in' END AS what
    FROM contacts_relation r
    LEFT JOIN moved m ON m.customer_id = r.customer_id AND m.deleted_at = r.added_at
    WHERE r.added_at >= %(since)s AND r.added_at < %(until)s
    UNION ALL
    SELECT (COALESCE(r.deleted_at, r.status_changed_at) AT TIME ZONE %(tz)s)::date,
           r.guide_id, r.channel_id, r.status
    FROM contacts_relation r
    WHERE r.status <> 'active'
      AND COALESCE(r.deleted_at, r.status_changed_at) >= %(since)s
      AND COALESCE(r.deleted_at, r.status_changed_at) < %(until)s
), counted AS MATERIALIZED (
    SELECT e.day, e.guide_id, g.store_id, e.channel_id,
           {_COUNTS}
    FROM events e JOIN contacts_guide g ON g.id = e.guide_id
    GROUP BY e.day, e.guide_id, g.store_id, e.channel_id
), guides AS (
    INSERT INTO dashboard_guideday (day, guide_id, store_id, {_COLUMNS})
    SELECT day, guide_id, store_id, {_SUMS}
    FROM counted GROUP BY day, guide_id, store_id
), channels AS (
    INSERT INTO dashboard_channelday (day, store_id, channel_id, {_COLUMNS})
    SELECT day, store_id, channel_id, {_SUMS}
    FROM counted WHERE channel_id IS NOT NULL GROUP BY day, store_id, channel_id
)
INSERT INTO dashboard_storeday (day, store_id, {_COLUMNS})
SELECT day, store_id, {_SUMS}
FROM counted GROUP BY day, store_id
"""  # noqa: S608 - built from constants


# A long run of days (a backfill): its months are summed again from the day tables, whole
# (a month's row includes its days outside the run).
MONTHS_REBUILD_SQL = f"""
WITH guides AS (
    DELETE FROM dashboard_guidemonth WHERE day BETWEEN %(first_month)s AND %(last)s
)
DELETE FROM dashboard_channelmonth WHERE day BETWEEN %(first_month)s AND %(last)s;
WITH guides AS (
    INSERT INTO dashboard_guidemonth (day, guide_id, store_id, {_COLUMNS})
    SELECT date_trunc('month', day)::date, guide_id, store_id, {_SUMS}
    FROM dashboard_guideday
    WHERE day >= %(first_month)s AND day < %(after_last_month)s
    GROUP BY 1, guide_id, store_id
)
INSERT INTO dashboard_channelmonth (day, store_id, channel_id, {_COLUMNS})
SELECT date_trunc('month', day)::date, store_id, channel_id, {_SUMS}
FROM dashboard_channelday
WHERE day >= %(first_month)s AND day < %(after_last_month)s
GROUP BY 1, store_id, channel_id
"""  # noqa: S608 - built from constants
MONTHS_DELTA_DAYS = 31  # a shorter run (the periodic refresh) moves its months by delta


def _months_delta_sql(sign: str) -> str:
    """The run's day rows per month taken out of the month tables (`-`, before the days are
    rebuilt) or added to them (`+`, after): the periodic refresh then costs its two days,
    not the month so far."""
    statements = []
    for table, keys in (("guide", "guide_id, store_id"), ("channel", "store_id, channel_id")):
        sums = (
            f"SELECT date_trunc('month', day)::date AS month, {keys}, "  # noqa: S608
            + ", ".join(f"sum({c}) AS {c}" for c in COUNT_COLUMNS)
            + f" FROM dashboard_{table}day WHERE day BETWEEN %(first)s AND %(last)s"
            + f" GROUP BY 1, {keys}"
        )
        if sign == "-":
            matched = " AND ".join(
                f"COALESCE(m.{k}, 0) = COALESCE(d.{k}, 0)" for k in keys.split(", ")
            )
            changes = ", ".join(f"{c} = m.{c} - d.{c}" for c in COUNT_COLUMNS)
            statements.append(
                f"UPDATE dashboard_{table}month m SET {changes} FROM ({sums}) d"  # noqa: S608
                f" WHERE m.day = d.month AND m.day BETWEEN %(first_month)s AND %(last)s"
                f" AND {matched}"
            )
        else:
            changes = ", ".join(
                f"{c} = dashboard_{table}month.{c} + EXCLUDED.{c}" for c in COUNT_COLUMNS
            )
            statements.append(
                f"INSERT INTO dashboard_{table}month (day, {keys}, {_COLUMNS}) {sums}"
                f" ON CONFLICT (day, {keys}) DO UPDATE SET {changes}"
            )
    return ";\n".join(statements)


MONTHS_SUBTRACT_SQL = _months_delta_sql("-")
MONTHS_ADD_SQL = _months_delta_sql("+")
_ZERO = " AND ".join(f"{c} = 0" for c in COUNT_COLUMNS)
MONTHS_EMPTY_SQL = f"""
DELETE FROM dashboard_guidemonth WHERE day BETWEEN %(first_month)s AND %(last)s AND {_ZERO};
DELETE FROM dashboard_channelmonth WHERE day BETWEEN %(first_month)s AND %(last)s AND {_ZERO}
"""  # noqa: S608 - built from constants


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass
class Refreshed:
    """What a refresh rebuilt: runs of consecutive days, first and last included."""

    runs: list[tuple[date, date]] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False  # another refresh of this tenant was running

    @property
    def days(self) -> int:
        return sum((last - first).days + 1 for first, last in self.runs)


def start_of(day: date) -> datetime:
    """Midnight of `day` in the tenant's time zone."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def days_refresh(*, first: date, last: date) -> None:
    """Rebuild the rows of the days `first`..`last` (local, both included), and the months
    they fall in. Expects the tenant's dashboard lock (`_lock`) held by the caller's
    transaction."""
    params: dict[str, Any] = {
        "first": first,
        "last": last,
        "first_month": month_start(first),
        "after_last_month": next_month(last),
        "since": start_of(first),
        "until": start_of(last + timedelta(days=1)),
        "tz": settings.TIME_ZONE,
    }
    with connection.cursor() as cursor:
        # The hash aggregates of a long run of days (a backfill) spill to disk at the
        # default 4 MB: 20 s instead of 9 s at 1,000,000 relations.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        by_delta = (last - first).days < MONTHS_DELTA_DAYS
        if by_delta:
            cursor.execute(MONTHS_SUBTRACT_SQL, params)
        cursor.execute(DELETE_SQL, params)
        cursor.execute(INSERT_SQL, params)
        if by_delta:
            cursor.execute(MONTHS_ADD_SQL, params)
            cursor.execute(MONTHS_EMPTY_SQL, params)
        else:
            cursor.execute(MONTHS_REBUILD_SQL, params)


def _lock(*, wait: bool) -> bool:
    """The tenant's dashboard lock, held until the transaction ends; False if `wait` is
    off and another refresh holds it."""
    key = f"dashboard:{getattr(connection, 'schema_name', '')}"
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [key])
        row = cursor.fetchone()
    return bool(row and row[0])


def _state() -> RefreshState:
    return RefreshState.objects.order_by("pk").first() or RefreshState.objects.create()


def _runs(days: set[date], today: date) -> list[tuple[date, date]]:
    """Consecutive days grouped into (first, last) runs; too many runs become one."""
    ordered = sorted(d for d in days if d <= today)
    runs: list[tuple[date, date]] = []
    for day in ordered:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    if len(runs) > MAX_RUNS:
        return [(ordered[0], ordered[-1])]
    return runs


def dashboard_refresh(*, days: int = RECENT_DAYS, today: date | None = None) -> Refreshed:
    """The last `days` days (today included) and the days of relations created since the
    previous refresh; the whole history the first time. Skipped (`skipped`) while another
    refresh of the tenant runs."""
    started = time.monotonic()
    today = today or timezone.localdate()
    with transaction.atomic():
        if not _lock(wait=False):
            return Refreshed(skipped=True)
        state = _state()
        if state.refreshed_at is None:
            result = _backfill(state, first=None, today=today)
        else:
            result = _refresh(state, days=days, today=today)
        result.seconds = time.monotonic() - started
        RefreshState.objects.filter(pk=state.pk).update(
            refreshed_at=timezone.now(), refresh_seconds=result.seconds
        )
    return result


def _refresh(state: RefreshState, *, days: int, today: date) -> Refreshed:
    """The recent days and those of the relations after `relation_id_checked` (their add
    and, for an ended one, their end). Each new relation is looked at by two refreshes in
    a row, so one whose transaction committed after a later id was seen is not missed."""
    wanted = {today - timedelta(days=n) for n in range(days)}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT day, max(id) FROM (
                SELECT (added_at AT TIME ZONE %(tz)s)::date AS day, id
                FROM contacts_relation WHERE id > %(after)s
                UNION ALL
                SELECT (COALESCE(deleted_at, status_changed_at) AT TIME ZONE %(tz)s)::date, id
                FROM contacts_relation
                WHERE id > %(after)s AND status <> 'active'
                  AND COALESCE(deleted_at, status_changed_at) IS NOT NULL
            ) created GROUP BY day
            """,
            {"tz": settings.TIME_ZONE, "after": state.relation_id_checked},
        )
        created = cursor.fetchall()
    wanted.update(day for day, _ in created)
    result = Refreshed(runs=_runs(wanted, today))
    for first, last in result.runs:
        days_refresh(first=first, last=last)
    RefreshState.objects.filter(pk=state.pk).update(
        relation_id_checked=state.relation_id_seen,
        relation_id_seen=max([state.relation_id_seen, *(pk for _, pk in created)]),
    )
    return result


def _backfill(state: RefreshState, *, first: date | None, today: date) -> Refreshed:
    """Every day from `first` (default: the first relation's) to today."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (min(added_at) AT TIME ZONE %s)::date, max(id) FROM contacts_relation",
            [settings.TIME_ZONE],
        )
        row = cursor.fetchone()
    earliest, max_id = (row[0], row[1] or 0) if row else (None, 0)
    start = min(first or earliest or today, today)
    days_refresh(first=start, last=today)
    RefreshState.objects.filter(pk=state.pk).update(
        relation_id_checked=max(state.relation_id_checked, max_id),
        relation_id_seen=max(state.relation_id_seen, max_id),
    )
    return Refreshed(runs=[(start, today)])


def dashboard_backfill(*, first: date | None = None, today: date | None = None) -> Refreshed:
    """Rebuild every day from `first` (default: the first relation's day) to today, waiting
    for a running refresh to finish."""
    started = time.monotonic()
    today = today or timezone.localdate()
    with transaction.atomic():
        _lock(wait=True)
        state = _state()
        result = _backfill(state, first=first, today=today)
        result.seconds = time.monotonic() - started
        RefreshState.objects.filter(pk=state.pk).update(
            refreshed_at=timezone.now(), refresh_seconds=result.seconds
        )
    return result
