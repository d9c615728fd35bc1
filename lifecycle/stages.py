"""The stage rules, evaluated for every customer at once in SQL.

A customer's stage is the first of these that holds (PRECEDENCE), with N, E and M the
tenant's `new_days`, `engaged_days` and `order_days`:

1. lost (流失): no active relation is left (every guide was deleted, or gone);
2. repeat (复购): two or more paid orders in the last M days;
3. first order (首单): exactly one paid order in the last M days;
4. engaged (互动): an interaction in the last E days: a custom event pushed by an
   integrator, or a timeline message, note, tag change or remark edit;
5. new (新客): first added (by any guide) in the last N days;
6. dormant (沉睡): every other friend: no paid order in M days, no interaction in E days,
   and a friend for longer than N days.

Buying outranks interacting, interacting outranks being new; refunded orders do not count.
Every customer gets exactly one stage. One statement computes all of them (hash
aggregates over the relations, the recent orders and the recent interactions, read through
their time indexes), compares them with the stored stages in a hash join and writes only
the rows whose stage changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from lifecycle.models import PRECEDENCE, LifecycleSettings, Stage
from lifecycle.services import lifecycle_settings

# Timeline kinds that count as an interaction (contacts.CustomerEvent.Kind values). The
# partial index lifecycle_customerevent_interactions (migration 0001) has this list as its
# predicate: change both together.
INTERACTION_KINDS = ("message", "note", "tagged", "edited", "custom")
# A preview in the settings page waits at most this long (a big tenant is told to save and
# let the background recomputation run instead).
PREVIEW_TIMEOUT_MS = 8000

# The condition of each stage, tried in PRECEDENCE order (the CASE below is built from it).
CONDITIONS: dict[str, str] = {
    Stage.LOST: "rel.friend IS NOT TRUE",
    Stage.REPEAT: "paid.orders >= 2",
    Stage.FIRST_ORDER: "paid.orders = 1",
    Stage.ENGAGED: "touched.customer_id IS NOT NULL",
    Stage.NEW: "rel.first_added >= %(new_since)s",
    Stage.DORMANT: "true",
}
assert list(CONDITIONS) == list(PRECEDENCE)  # the CASE is built in this order

STAGE_CASE = (
    "CASE "
    + " ".join(f"WHEN {CONDITIONS[stage]} THEN '{stage.value}'" for stage in PRECEDENCE)
    + " END"
)

COMPUTED = f"""
WITH rel AS (
    SELECT customer_id,
           bool_or(status = 'active') AS friend,
           min(added_at) AS first_added,
           max(COALESCE(deleted_at, status_changed_at)) FILTER (WHERE status <> 'active')
               AS last_ended
    FROM contacts_relation
    GROUP BY customer_id
),
paid AS (
    SELECT customer_id, count(*) AS orders
    FROM orders_order
    WHERE status = 'paid' AND customer_id IS NOT NULL
      AND paid_at >= %(orders_since)s AND paid_at <= %(now)s
    GROUP BY customer_id
),
touched AS (
    SELECT customer_id FROM contacts_customerevent
    WHERE kind IN %(kinds)s AND occurred_at >= %(engaged_since)s AND occurred_at <= %(now)s
    UNION
    SELECT customer_id FROM orders_customevent
    WHERE customer_id IS NOT NULL
      AND occurred_at >= %(engaged_since)s AND occurred_at <= %(now)s
),
computed AS (
    SELECT c.id AS customer_id, {STAGE_CASE} AS stage, rel.first_added, rel.last_ended
    FROM contacts_customer c
    LEFT JOIN rel ON rel.customer_id = c.id
    LEFT JOIN paid ON paid.customer_id = c.id
    LEFT JOIN touched ON touched.customer_id = c.id
)
"""  # noqa: S608 - built from constants

# `since`: when the customer entered the stage. A new customer's stage began with their
# first add and a lost customer's when their last relation ended; any other change is
# dated by the recomputation that saw it (hourly, so at most an hour late).
RECOMPUTE_SQL = (
    COMPUTED  # noqa: S608 - built from constants
    + """
, changed AS (
    SELECT computed.* FROM computed
    LEFT JOIN lifecycle_customerstage cs ON cs.customer_id = computed.customer_id
    WHERE cs.stage IS DISTINCT FROM computed.stage
)
INSERT INTO lifecycle_customerstage (customer_id, stage, since)
SELECT customer_id, stage,
       CASE stage WHEN 'new' THEN LEAST(COALESCE(first_added, %(now)s), %(now)s)
                  WHEN 'lost' THEN LEAST(COALESCE(last_ended, %(now)s), %(now)s)
                  ELSE %(now)s END
FROM changed
ON CONFLICT (customer_id) DO UPDATE SET stage = EXCLUDED.stage, since = EXCLUDED.since
WHERE lifecycle_customerstage.stage <> EXCLUDED.stage
"""
)

PREVIEW_SQL = COMPUTED + "SELECT stage, count(*) FROM computed GROUP BY stage"  # noqa: S608

COUNTS_SQL = """
INSERT INTO lifecycle_stagecount (day, stage, count)
SELECT %(day)s, stage, count FROM unnest(%(stages)s::varchar[], %(counts)s::bigint[])
    AS c(stage, count)
ON CONFLICT (day, stage) DO UPDATE SET count = EXCLUDED.count
"""


@dataclass(frozen=True)
class Rules:
    """The thresholds, in days."""

    new_days: int
    engaged_days: int
    order_days: int

    @classmethod
    def of(cls, options: LifecycleSettings) -> Rules:
        return cls(
            new_days=options.new_days,
            engaged_days=options.engaged_days,
            order_days=options.order_days,
        )

    def params(self, now: datetime) -> dict[str, Any]:
        return {
            "now": now,
            "new_since": now - timedelta(days=self.new_days),
            "engaged_since": now - timedelta(days=self.engaged_days),
            "orders_since": now - timedelta(days=self.order_days),
            "kinds": INTERACTION_KINDS,
        }


@dataclass
class Recomputed:
    changed: int  # customers whose stage changed (or who got their first stage)
    counts: dict[str, int]  # customers per stage now
    seconds: float


def _lock_stages() -> None:
    """One recomputation at a time per tenant: a second waits for the first to commit, then
    runs with the rules saved by then."""
    schema = getattr(connection, "schema_name", "")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"lifecycle:{schema}"])


def customer_stages_recompute(*, now: datetime | None = None) -> Recomputed:
    """Every customer's stage from the rules saved now, and today's count per stage.

    Set-based: one INSERT ... SELECT ... ON CONFLICT of the customers whose stage changed,
    one count per stage, one upsert of the day's counts. Takes the tenant's lifecycle lock.
    """
    started = time.monotonic()
    now = now or timezone.now()
    with transaction.atomic():
        _lock_stages()
        options = lifecycle_settings()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute(RECOMPUTE_SQL, Rules.of(options).params(now))
            changed = cursor.rowcount
            cursor.execute("SELECT stage, count(*) FROM lifecycle_customerstage GROUP BY stage")
            counts = {stage.value: 0 for stage in PRECEDENCE}
            counts.update({stage: int(n) for stage, n in cursor.fetchall()})
            cursor.execute(
                COUNTS_SQL,
                {
                    "day": timezone.localdate(now),
                    "stages": list(counts),
                    "counts": list(counts.values()),
                },
            )
        seconds = time.monotonic() - started
        LifecycleSettings.objects.filter(pk=options.pk).update(
            recomputed_at=timezone.now(), recompute_seconds=seconds, recompute_changed=changed
        )
    return Recomputed(changed=changed, counts=counts, seconds=seconds)


def stage_counts_preview(
    rules: Rules, *, now: datetime | None = None, timeout_ms: int = PREVIEW_TIMEOUT_MS
) -> dict[str, int] | None:
    """How many customers each stage would hold under `rules`, without writing; None when
    counting takes longer than `timeout_ms` (a big tenant)."""
    now = now or timezone.now()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute(PREVIEW_SQL, rules.params(now))
            rows = cursor.fetchall()
    except OperationalError:
        return None
    counts = {stage.value: 0 for stage in PRECEDENCE}
    counts.update({stage: int(n) for stage, n in rows})
    return counts
