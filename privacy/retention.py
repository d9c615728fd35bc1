"""Retention (保留期限): what the daily job clears once the tenant's periods are over.

- Raw WeCom callbacks: once a callback is finished (done or failed) and older than the
  callback period (default 30 days), its XML and parsed payload are emptied; the row stays
  (event, change type, times, status) for the console's list.
- Ended relations (deleted by either side, gone, transferred): once ended longer than the
  relation period (default 365 days), their remark, description, remark company and remark
  phones are emptied, and so are the details of the remark edits on them. A customer none
  of whose relations is active or ended within the period is then erased entirely, as on a
  request (privacy.erasure, audit actor "retention").

Both walk their table in batches along an index (callbacks by id from where the last run
left off, ended relations along the `relation_ended` partial index), so a run reads each
row once, and every batch commits on its own: a run that dies resumes where it stopped.
"""

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from privacy.erased import privacy_settings
from privacy.erasure import customers_erase
from privacy.models import ErasedContact, PrivacySettings

BATCH = 5000
ERASE_BATCH = 500
FINISHED_CALLBACKS = ("done", "failed")
# Relations ended before the last run's cutoff are looked at again for this long: WeCom's
# event time (the end we record) can be older than the moment we learn of it.
RELATIONS_LOOKBACK = timedelta(days=7)


@dataclass
class RetentionResult:
    callbacks_cleared: int = 0
    relations_cleared: int = 0
    customers_erased: int = 0
    seconds: float = 0.0


# --- raw callbacks ----------------------------------------------------------------------------


def callbacks_clear(*, cutoff: datetime, after_id: int, batch: int = BATCH) -> tuple[int, int]:
    """Empty the raw XML and payload of finished callbacks received before `cutoff`, walking
    ids after `after_id`. Returns (cleared, the new watermark): every callback up to the
    watermark is finished and cleared (an unfinished one holds it back)."""
    cleared, watermark, blocked = 0, after_id, False
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT id, received_at, status, (raw_xml <> '' OR payload <> '{}'::jsonb)
                FROM wecom_callbackevent WHERE id > %s ORDER BY id LIMIT %s
                """,
                [after_id, batch],
            )
            rows = cursor.fetchall()
        if not rows:
            break
        due = []
        reached_cutoff = False
        for pk, received_at, status, has_raw in rows:
            if received_at >= cutoff:
                reached_cutoff = True
                break
            finished = status in FINISHED_CALLBACKS
            if finished and has_raw:
                due.append(pk)
            if finished and not blocked:
                watermark = pk
            else:
                blocked = True
        if due:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    """
                    UPDATE wecom_callbackevent SET raw_xml = '', payload = '{}'::jsonb
                    WHERE id = ANY(%s::bigint[]) AND status IN ('done', 'failed')
                    """,
                    [due],
                )
                cleared += cursor.rowcount
        if reached_cutoff or len(rows) < batch:
            break
        after_id = rows[-1][0]
    return cleared, watermark


# --- ended relations --------------------------------------------------------------------------

ENDED = "COALESCE(deleted_at, status_changed_at, updated_at)"

ENDED_PAGE = f"""
SELECT status, guide_id, customer_id, id FROM contacts_relation
WHERE status <> 'active' AND (status, guide_id, customer_id) > (%(status)s, %(guide)s, %(customer)s)
  AND {ENDED} < %(cutoff)s AND {ENDED} >= %(since)s
ORDER BY status, guide_id, customer_id
LIMIT %(batch)s
"""  # noqa: S608 - no user input

RELATIONS_CLEAR = """
UPDATE contacts_relation SET remark = '', description = '', remark_corp_name = '',
    remark_mobiles = '{}'
WHERE id = ANY(%(ids)s::bigint[])
  AND (remark <> '' OR description <> '' OR remark_corp_name <> '' OR remark_mobiles <> '{}')
"""

EDITS_CLEAR = """
UPDATE contacts_customerevent e SET data = '{}'::jsonb
FROM unnest(%(customers)s::bigint[], %(guides)s::bigint[]) AS p (customer_id, guide_id)
WHERE e.customer_id = p.customer_id AND e.guide_id = p.guide_id AND e.kind = 'edited'
  AND e.data <> '{}'::jsonb
"""

# Customers none of whose relations is active or ended within the period.
EXPIRED_CUSTOMERS = f"""
SELECT c.id FROM contacts_customer c
WHERE c.id = ANY(%(ids)s::bigint[]) AND c.external_userid NOT LIKE 'erased\\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM contacts_relation r
      WHERE r.customer_id = c.id AND (r.status = 'active' OR {ENDED} >= %(cutoff)s))
ORDER BY c.id
"""  # noqa: S608 - no user input


def relations_expire(
    *, cutoff: datetime, since: datetime | None, batch: int = BATCH, erase_batch: int = ERASE_BATCH
) -> tuple[int, int]:
    """Clear the relations that ended between `since` and `cutoff` and erase the customers
    left with nothing inside the period. Returns (relations cleared, customers erased)."""
    position: tuple[str, int, int] = ("", 0, 0)
    floor = since or datetime(1970, 1, 1, tzinfo=timezone.get_current_timezone())
    cleared = erased = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                ENDED_PAGE,
                {
                    "status": position[0],
                    "guide": position[1],
                    "customer": position[2],
                    "cutoff": cutoff,
                    "since": floor,
                    "batch": batch,
                },
            )
            rows = cursor.fetchall()
        if not rows:
            break
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(RELATIONS_CLEAR, {"ids": [row[3] for row in rows]})
            cleared += cursor.rowcount
            cursor.execute(
                EDITS_CLEAR,
                {"customers": [row[2] for row in rows], "guides": [row[1] for row in rows]},
            )
            cursor.execute(
                EXPIRED_CUSTOMERS,
                {"ids": sorted({row[2] for row in rows}), "cutoff": cutoff},
            )
            expired = [row[0] for row in cursor.fetchall()]
            for offset in range(0, len(expired), erase_batch):
                erased += customers_erase(
                    customer_ids=expired[offset : offset + erase_batch],
                    reason=ErasedContact.Reason.RETENTION,
                    free_text=False,
                ).count
        if len(rows) < batch:
            break
        position = (rows[-1][0], rows[-1][1], rows[-1][2])
    return cleared, erased


# --- the daily job ----------------------------------------------------------------------------


def retention_run(*, now: datetime | None = None, batch: int = BATCH) -> RetentionResult:
    """Apply the tenant's retention periods (see the module's docstring) and record what was
    done on the settings row for the console."""
    started = time.monotonic()
    now = now or timezone.now()
    options = privacy_settings()
    result = RetentionResult()
    result.callbacks_cleared, watermark = callbacks_clear(
        cutoff=now - timedelta(days=options.callback_retention_days),
        after_id=options.callbacks_checked_id,
        batch=batch,
    )
    PrivacySettings.objects.filter(pk=options.pk).update(callbacks_checked_id=watermark)
    relation_cutoff = now - timedelta(days=options.relation_retention_days)
    since = (
        options.relations_checked_before - RELATIONS_LOOKBACK
        if options.relations_checked_before is not None
        else None
    )
    result.relations_cleared, result.customers_erased = relations_expire(
        cutoff=relation_cutoff, since=since, batch=batch
    )
    result.seconds = round(time.monotonic() - started, 3)
    stats: dict[str, Any] = asdict(result)
    PrivacySettings.objects.filter(pk=options.pk).update(
        relations_checked_before=relation_cutoff,
        retention_ran_at=now,
        retention_seconds=result.seconds,
        retention_stats=stats,
    )
    return result
