"""Planning a group send: the audience frozen into one Delivery per customer, in SQL.

Every customer of the audience gets a row, so the operator sees each one's fate:
- `planned`, with the one guide who will send it (never two guides for one customer);
- `no_relation`: no active guide holds them;
- `dnd`: a "do not disturb" tag on any of their relations;
- `over_cap`: the platform's own records say WeCom's frequency rule would skip them: its
  sends in the period reach the cap, or WeCom already skipped them for the cap in this
  period (the guides' own sends are not in the records: WeCom may still skip more, and says
  so in the results).
"""

import calendar
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from broadcast.models import Broadcast, BroadcastSettings, Delivery
from contacts.models import Customer, erased


class BroadcastInputError(ValueError):
    """A group send that cannot be planned or changed: the message says why."""


def broadcast_settings() -> BroadcastSettings:
    return BroadcastSettings.objects.order_by("pk").first() or BroadcastSettings.objects.create()


def content_fingerprint(text: str, attachments: list[dict[str, Any]]) -> str:
    """What identifies our template among WeCom's records (text and attachment kinds)."""
    shape = {
        "text": text.strip(),
        "attachments": [str(a.get("kind") or a.get("msgtype") or "") for a in attachments],
    }
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()


def cap_window(rule: str, now: datetime) -> tuple[datetime, int]:
    """The start of WeCom's current counting period and how many messages it allows."""
    local = timezone.localtime(now)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if rule == BroadcastSettings.Cap.DAY:
        return day, 1
    if rule == BroadcastSettings.Cap.WEEK:
        return day - timedelta(days=local.weekday()), 7
    return day.replace(day=1), calendar.monthrange(local.year, local.month)[1]


def _audience_sql(broadcast: Broadcast) -> tuple[str, list[Any]]:
    """SQL selecting the audience's customer ids."""
    if broadcast.audience == Broadcast.Audience.SEGMENT:
        from tagging.segments import segment_clean, segment_customers

        if broadcast.segment is None:
            raise BroadcastInputError(_("the segment was deleted"))
        definition = segment_clean(broadcast.segment.definition, check_exists=False)
        query = segment_customers(definition).values("pk")
    elif broadcast.audience in (Broadcast.Audience.CSV, Broadcast.Audience.CUSTOMERS):
        query = (
            Customer.objects.filter(external_userid__in=broadcast.audience_ids)
            .exclude(erased())
            .values("pk")
        )
    else:
        raise BroadcastInputError(_("this audience is for group chats"))
    sql, params = query.query.sql_with_params()
    return sql, list(params)


def _sender_order(broadcast: Broadcast) -> str:
    if broadcast.sender_rule == Broadcast.SenderRule.FIRST:
        return "r.added_at ASC, r.id ASC"
    if broadcast.sender_rule == Broadcast.SenderRule.STORE:
        return "(g.store_id IS NOT DISTINCT FROM %(store)s) DESC, r.added_at DESC, r.id DESC"
    return "r.added_at DESC, r.id DESC"


def _insert_customer_deliveries(broadcast: Broadcast) -> int:
    options = broadcast_settings()
    since, cap = cap_window(options.frequency_cap, timezone.now())
    audience, audience_params = _audience_sql(broadcast)
    order = _sender_order(broadcast)
    named = {
        "b": broadcast.pk,
        "store": broadcast.sender_store_id,
        "dnd": list(options.do_not_disturb_tag_ids),
        "since": since,
        "cap": cap,
    }
    sql = f"""
        INSERT INTO broadcast_delivery (broadcast_id, customer_id, target, sender_id, status,
                                        error)
        SELECT %(b)s, c.id, c.external_userid, s.guide_id,
            CASE
                WHEN s.guide_id IS NULL THEN 'no_relation'
                WHEN cardinality(%(dnd)s::varchar[]) > 0 AND EXISTS (
                    SELECT 1 FROM contacts_relation d
                    WHERE d.customer_id = c.id AND d.wecom_tag_ids && %(dnd)s::varchar[]
                ) THEN 'dnd'
                WHEN (
                    SELECT count(*) FROM broadcast_delivery p
                    WHERE p.target = c.external_userid AND p.status IN ('sent', 'waiting')
                      AND (p.status = 'waiting' OR p.sent_at >= %(since)s)
                ) >= %(cap)s OR EXISTS (
                    -- WeCom already found them at the cap in this period
                    SELECT 1 FROM broadcast_delivery q
                    WHERE q.target = c.external_userid AND q.status = 'capped'
                      AND q.sent_at >= %(since)s
                ) THEN 'over_cap'
                ELSE 'planned'
            END, ''
        FROM contacts_customer c
        LEFT JOIN LATERAL (
            SELECT r.guide_id FROM contacts_relation r
            JOIN contacts_guide g ON g.id = r.guide_id
            WHERE r.customer_id = c.id AND r.status = 'active' AND g.status = 'active'
            ORDER BY {order} LIMIT 1
        ) s ON true
        WHERE c.id IN ({audience})
        ORDER BY c.id
    """  # noqa: S608 - fixed SQL; the audience is compiled by the ORM, values are parameters
    # psycopg2 takes one style per statement: turn the audience's positional parameters
    # into named ones.
    for index, value in enumerate(audience_params):
        key = f"a{index}"
        sql = sql.replace("%s", f"%({key})s", 1)
        named[key] = value
    with connection.cursor() as cursor:
        cursor.execute(sql, named)
        return cursor.rowcount


def _insert_chat_deliveries(broadcast: Broadcast) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO broadcast_delivery (broadcast_id, chat_id, target, sender_id, status,
                                            error)
            SELECT %(b)s, gc.id, gc.chat_id, CASE WHEN g.status = 'active' THEN g.id END,
                CASE WHEN g.id IS NULL OR g.status <> 'active' OR gc.status = 'dismissed'
                     THEN 'no_relation' ELSE 'planned' END, ''
            FROM contacts_groupchat gc
            LEFT JOIN contacts_guide g ON g.id = gc.owner_id
            WHERE gc.chat_id = ANY(%(ids)s)
            ORDER BY gc.id
            """,
            {"b": broadcast.pk, "ids": list(broadcast.audience_ids)},
        )
        return cursor.rowcount


def _insert_unknown(broadcast: Broadcast) -> int:
    """Named recipients (CSV, chosen ids) the brand does not have: rows too, so the operator
    sees every line's fate."""
    if broadcast.audience == Broadcast.Audience.SEGMENT or not broadcast.audience_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO broadcast_delivery (broadcast_id, target, status, error)
            SELECT %(b)s, ids.target, 'not_customer', ''
            FROM unnest(%(ids)s::varchar[]) AS ids(target)
            WHERE NOT EXISTS (
                SELECT 1 FROM broadcast_delivery d
                WHERE d.broadcast_id = %(b)s AND d.target = ids.target
            )
            """,
            {"b": broadcast.pk, "ids": list(broadcast.audience_ids)},
        )
        return cursor.rowcount


def broadcast_counts(broadcast: Broadcast) -> dict[str, int]:
    rows = (
        Delivery.objects.filter(broadcast=broadcast)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return dict(rows)


def broadcast_plan(*, broadcast_id: int) -> Broadcast:
    """Freeze the audience now (again, if planning was interrupted): one transaction."""
    from tagging.segments import segment_query_settings

    with segment_query_settings():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast_id)
        if broadcast.status not in (Broadcast.Status.DRAFT, Broadcast.Status.PLANNING):
            raise BroadcastInputError(_("this group send has already been planned"))
        Delivery.objects.filter(broadcast=broadcast).delete()
        if broadcast.chat_type == Broadcast.ChatType.GROUP:
            _insert_chat_deliveries(broadcast)
        else:
            _insert_customer_deliveries(broadcast)
        _insert_unknown(broadcast)
        broadcast.counts = broadcast_counts(broadcast)
        broadcast.fingerprint = content_fingerprint(broadcast.text, list(broadcast.attachments))
        broadcast.status = Broadcast.Status.READY
        broadcast.planned_at = timezone.now()
        broadcast.lease_until = None
        broadcast.save(
            update_fields=["counts", "fingerprint", "status", "planned_at", "lease_until"]
        )
    # Fresh statistics for the rows just written: without them, chunking right after a big
    # plan gets a nested-loop plan (bench/broadcast.py at 200,000: 95 s instead of 16 s).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE broadcast_delivery")
    return broadcast


def broadcast_plan_start(*, broadcast: Broadcast) -> None:
    """Queue the planning job (after the commit): big audiences take a while. Planning is one
    transaction: a worker killed meanwhile leaves nothing, and the tick queues it again
    once the claim runs out."""
    from broadcast.dispatch import lease
    from broadcast.tasks import broadcast_plan_task
    from scrm.tenant_tasks import enqueue

    with transaction.atomic():
        updated = Broadcast.objects.filter(
            pk=broadcast.pk, status__in=[Broadcast.Status.DRAFT, Broadcast.Status.PLANNING]
        ).update(status=Broadcast.Status.PLANNING, lease_until=timezone.now() + lease())
        if not updated:
            raise BroadcastInputError(_("this group send has already been planned"))
        enqueue(broadcast_plan_task, broadcast_id=broadcast.pk)
