"""Sending a handover's items to WeCom and following them until final.

Sending: items are claimed 100 at a time (one handed-over guide, one taker) with a
conditional UPDATE, sent with one WeCom call, and the call's per-customer answers saved in
one transaction. A worker killed between WeCom accepting a batch and the platform saving it
leaves the batch `sending` with a claim that runs out; before such items are sent again,
WeCom's transfer results for that guide pair are read and every customer WeCom already has
is adopted (WeCom offers no idempotency key), so no customer is transferred twice.

Results: WeCom moves a customer 24 h after the transfer started unless the customer refuses
or the taker is full. `transfer_result` is polled per guide pair until every item is final;
the `transfer_fail` callback only brings the next poll forward. On acceptance the relation
moves to the taker in the database, with a timeline entry on both sides, and the taker is
told which customers they received.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import CustomerEvent, GroupChat, Guide
from handover.models import Handover, TransferItem
from scrm.wecom.client import WeComClient, wecom_client
from scrm.wecom.errors import WeComError, errcode_meaning
from webhooks.emit import emit_customers_transferred, emit_handover_finished

logger = logging.getLogger(__name__)

BATCH = 100  # customers per transfer_customer call, chats per groupchat/transfer call
TAKEOVER_DELAY = timedelta(hours=24)
# A waiting item WeCom still does not list this long after its takeover time has failed.
MISSING_GRACE = timedelta(hours=1)
RESULT_STATUS = {
    1: TransferItem.Status.ACCEPTED,
    2: TransferItem.Status.WAITING,
    3: TransferItem.Status.REFUSED,
    4: TransferItem.Status.TAKER_FULL,
}
ERRCODE_STATUS = {
    40128: TransferItem.Status.SKIPPED,  # on-duty: twice in 90 days
    40096: TransferItem.Status.GONE,
    84061: TransferItem.Status.GONE,  # no longer a customer of the guide
}
NO_RECORD = "WeCom has no record of this transfer"


def lease() -> timedelta:
    """How long a claim (of the handover, or of a batch) holds without being renewed."""
    return timedelta(seconds=settings.HANDOVER_LEASE_SECONDS)


class HandoverNotClaimed(Exception):
    """Another worker holds the handover, or it is not sending."""


def _api(kind: str, target: str) -> str:
    if target == TransferItem.Target.CHAT:
        return (
            "externalcontact/groupchat/transfer"
            if kind == Handover.Kind.RESIGNED
            else "externalcontact/groupchat/onjob_transfer"
        )
    return (
        "externalcontact/resigned/transfer_customer"
        if kind == Handover.Kind.RESIGNED
        else "externalcontact/transfer_customer"
    )


def _result_api(kind: str) -> str:
    return (
        "externalcontact/resigned/transfer_result"
        if kind == Handover.Kind.RESIGNED
        else "externalcontact/transfer_result"
    )


def _ts(value: Any) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.get_current_timezone()) if seconds else None


# --- claiming ----------------------------------------------------------------------------


def handover_claim(*, handover_id: int) -> Handover:
    now = timezone.now()
    claimed = (
        Handover.objects.filter(pk=handover_id, status=Handover.Status.SENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + lease())
    )
    if not claimed:
        raise HandoverNotClaimed(handover_id)
    return Handover.objects.get(pk=handover_id)


def _renew(handover: Handover) -> bool:
    return bool(
        Handover.objects.filter(pk=handover.pk, status=Handover.Status.SENDING).update(
            lease_until=timezone.now() + lease()
        )
    )


def _claim_batch(handover: Handover) -> list[TransferItem]:
    """Up to BATCH pending items of one guide pair and target, marked `sending` (one
    conditional UPDATE: two workers never claim the same item)."""
    batch = uuid.uuid4().hex
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH head AS (
                SELECT target, from_guide_id, to_guide_id FROM handover_transferitem
                WHERE handover_id = %(h)s AND status = 'pending' ORDER BY id LIMIT 1
            ), picked AS (
                SELECT t.id FROM handover_transferitem t, head
                WHERE t.handover_id = %(h)s AND t.status = 'pending'
                  AND t.target = head.target AND t.from_guide_id = head.from_guide_id
                  AND t.to_guide_id = head.to_guide_id
                ORDER BY t.id LIMIT %(n)s FOR UPDATE SKIP LOCKED
            )
            UPDATE handover_transferitem SET status = 'sending', batch = %(b)s,
                claimed_until = %(until)s
            WHERE id IN (SELECT id FROM picked) AND status = 'pending'
            RETURNING id
            """,
            {"h": handover.pk, "n": BATCH, "b": batch, "until": timezone.now() + lease()},
        )
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    return list(
        TransferItem.objects.filter(pk__in=ids)
        .select_related("from_guide", "to_guide", "chat")
        .order_by("id")
    )


# --- sending -----------------------------------------------------------------------------


def _finish(
    item: TransferItem, status: str, *, errcode: int | None = None, error: str = ""
) -> None:
    item.status, item.errcode, item.error = status, errcode, error[:300]
    if status not in TransferItem.IN_FLIGHT:
        item.finished_at = timezone.now()


def _save(items: list[TransferItem]) -> None:
    """The items' outcome in one UPDATE from arrays (Django's bulk_update builds a CASE per
    row and field: 250 ms per 100 items in bench/handover.py, against 15 ms for this)."""
    if not items:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE handover_transferitem t SET status = v.status, errcode = v.errcode,
                error = v.error, finished_at = v.finished_at, sent_at = v.sent_at,
                takeover_time = v.takeover_time, claimed_until = v.claimed_until
            FROM unnest(%s::bigint[], %s::varchar[], %s::integer[], %s::varchar[],
                        %s::timestamptz[], %s::timestamptz[], %s::timestamptz[],
                        %s::timestamptz[])
                AS v(id, status, errcode, error, finished_at, sent_at, takeover_time,
                     claimed_until)
            WHERE t.id = v.id
            """,
            [
                [i.pk for i in items],
                [i.status for i in items],
                [i.errcode for i in items],
                [i.error for i in items],
                [i.finished_at for i in items],
                [i.sent_at for i in items],
                [i.takeover_time for i in items],
                [i.claimed_until for i in items],
            ],
        )


def _still_held(items: list[TransferItem]) -> set[str]:
    """external_userids the handed-over guide still holds (active relation)."""
    from contacts.models import Relation

    item = items[0]
    return set(
        Relation.objects.filter(
            guide_id=item.from_guide_id,
            customer_id__in=[i.customer_id for i in items],
            status=Relation.Status.ACTIVE,
        ).values_list("customer__external_userid", flat=True)
    )


def _send_customers(handover: Handover, items: list[TransferItem], client: WeComClient) -> None:
    held = _still_held(items)
    sendable = []
    for item in items:
        if item.external_id in held:
            sendable.append(item)
        else:
            _finish(item, TransferItem.Status.GONE, error="no longer a customer of the guide")
    if sendable:
        body: dict[str, Any] = {
            "handover_userid": items[0].from_guide.userid,
            "takeover_userid": items[0].to_guide.userid if items[0].to_guide else "",
            "external_userid": [i.external_id for i in sendable],
        }
        if handover.kind == Handover.Kind.ON_DUTY and handover.message:
            body["transfer_success_msg"] = handover.message
        try:
            response = client.post(_api(handover.kind, TransferItem.Target.CUSTOMER), data=body)
        except WeComError as exc:
            if exc.transient:
                _release_for_lookup(items)
                raise
            for item in sendable:
                _finish(item, TransferItem.Status.FAILED, errcode=exc.errcode, error=exc.meaning)
            sendable = []
            response = {}
        answers = {
            str(row.get("external_userid")): int(row.get("errcode") or 0)
            for row in response.get("customer") or []
        }
        now = timezone.now()
        for item in sendable:
            errcode = answers.get(item.external_id)
            if errcode in (0, 40129):
                # 40129: already being transferred (a retried call): the poll will say how.
                item.status, item.sent_at = TransferItem.Status.WAITING, now
                item.takeover_time = now + TAKEOVER_DELAY
                item.errcode, item.error = None, ""
            elif errcode is None:
                _finish(item, TransferItem.Status.FAILED, error="WeCom did not answer for it")
            else:
                status = ERRCODE_STATUS.get(errcode, TransferItem.Status.FAILED)
                _finish(item, status, errcode=errcode, error=errcode_meaning(errcode))
                if status == TransferItem.Status.SKIPPED:
                    item.sent_at = None
    with transaction.atomic():
        _save(items)


def _send_chats(handover: Handover, items: list[TransferItem], client: WeComClient) -> None:
    taker = items[0].to_guide
    assert taker is not None
    try:
        response = client.post(
            _api(handover.kind, TransferItem.Target.CHAT),
            data={"chat_id_list": [i.external_id for i in items], "new_owner": taker.userid},
        )
    except WeComError as exc:
        if exc.transient:
            _release_for_lookup(items)
            raise
        for item in items:
            _finish(item, TransferItem.Status.FAILED, errcode=exc.errcode, error=exc.meaning)
        response = None
    failed = {
        str(row.get("chat_id")): int(row.get("errcode") or 0)
        for row in (response or {}).get("failed_chat_list") or []
    }
    now = timezone.now()
    moved = []
    if response is not None:
        for item in items:
            errcode = failed.get(item.external_id, 0)
            if errcode in (0, 90504):  # 90504: already the owner (a retried call)
                _finish(item, TransferItem.Status.ACCEPTED)
                item.sent_at = item.takeover_time = now
                moved.append(item)
            elif errcode == 40128:
                _finish(item, TransferItem.Status.SKIPPED, errcode=errcode)
            else:
                _finish(
                    item,
                    TransferItem.Status.FAILED,
                    errcode=errcode,
                    error=errcode_meaning(errcode),
                )
    with transaction.atomic():
        _save(items)
        for item in moved:
            GroupChat.objects.filter(pk=item.chat_id or 0).update(
                owner=taker, owner_userid=taker.userid, status=GroupChat.Status.NORMAL
            )


def _release_for_lookup(items: list[TransferItem]) -> None:
    """A transient failure: WeCom may or may not have the batch. Let the claim run out now,
    so the next run looks the customers up before sending them again."""
    TransferItem.objects.filter(pk__in=[i.pk for i in items]).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )


def handover_send(
    *, handover_id: int, max_batches: int | None = None, client: WeComClient | None = None
) -> str:
    """Send the handover's pending items (at most `max_batches` calls this time); returns
    the handover's status. Raises HandoverNotClaimed when another worker holds it."""
    handover = handover_claim(handover_id=handover_id)
    client = client or wecom_client(app_kind="customer_contact", priority="bulk")
    try:
        items_reconcile(handover=handover, client=client)
        sent = 0
        while max_batches is None or sent < max_batches:
            items = _claim_batch(handover)
            if not items:
                break
            if items[0].target == TransferItem.Target.CHAT:
                _send_chats(handover, items, client)
            else:
                _send_customers(handover, items, client)
            sent += 1
            if not _renew(handover):
                break  # cancelled meanwhile
        return _after_sending(handover)
    finally:
        Handover.objects.filter(pk=handover.pk).update(lease_until=None)


def _after_sending(handover: Handover) -> str:
    left = handover.items.filter(
        status__in=[TransferItem.Status.PENDING, TransferItem.Status.SENDING]
    ).exists()
    if left:
        return Handover.objects.values_list("status", flat=True).get(pk=handover.pk)
    Handover.objects.filter(pk=handover.pk, status=Handover.Status.SENDING).update(
        status=Handover.Status.WAITING, next_poll_at=timezone.now()
    )
    return handover_finish_if_final(handover_id=handover.pk)


# --- WeCom's results ---------------------------------------------------------------------


def _results(client: WeComClient, kind: str, items: list[TransferItem]) -> Iterator[dict[str, Any]]:
    """WeCom's transfer results for the guide pair of `items` (every page)."""
    handover_userid = items[0].from_guide.userid
    takeover_userid = items[0].to_guide.userid if items[0].to_guide else ""
    cursor = ""
    while True:
        response = client.post(
            _result_api(kind),
            data={
                "handover_userid": handover_userid,
                "takeover_userid": takeover_userid,
                "cursor": cursor,
            },
        )
        yield from response.get("customer") or []
        cursor = str(response.get("next_cursor") or "")
        if not cursor:
            return


def _latest_by_customer(rows: Iterator[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """WeCom lists every transfer of the pair; the latest of each customer counts."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row.get("external_userid") or "")
        seen = latest.get(key)
        if seen is None or int(row.get("takeover_time") or 0) >= int(
            seen.get("takeover_time") or 0
        ):
            latest[key] = row
    return latest


def _pairs(items: Any) -> dict[tuple[int, int], list[TransferItem]]:
    pairs: dict[tuple[int, int], list[TransferItem]] = defaultdict(list)
    for item in items:
        pairs[(item.from_guide_id, item.to_guide_id)].append(item)
    return pairs


def items_reconcile(*, handover: Handover, client: WeComClient) -> int:
    """Items claimed by a worker that died: adopt what WeCom already has, send the rest
    again. Returns how many were adopted."""
    stale = list(
        handover.items.filter(
            status=TransferItem.Status.SENDING, claimed_until__lt=timezone.now()
        ).select_related("from_guide", "to_guide")
    )
    adopted = 0
    for (_from, _to), items in _pairs(stale).items():
        chats = [i for i in items if i.target == TransferItem.Target.CHAT]
        customers = [i for i in items if i.target == TransferItem.Target.CUSTOMER]
        # A chat sent again is answered "already the owner" (90504): safe to resend.
        TransferItem.objects.filter(pk__in=[i.pk for i in chats]).update(
            status=TransferItem.Status.PENDING, batch="", claimed_until=None
        )
        if not customers:
            continue
        latest = _latest_by_customer(_results(client, handover.kind, customers))
        found: list[TransferItem] = []
        missing: list[TransferItem] = []
        for item in customers:
            row = latest.get(item.external_id)
            claimed_at = (item.claimed_until or timezone.now()) - lease()
            started = _ts(row.get("takeover_time")) if row else None
            ours = row is not None and (
                int(row.get("status") or 0) == 2 or (started is not None and started >= claimed_at)
            )
            (found if ours else missing).append(item)
        if found:
            item_results_apply(handover=handover, items=found, latest=latest, adopted=True)
            adopted += len(found)
        TransferItem.objects.filter(pk__in=[i.pk for i in missing]).update(
            status=TransferItem.Status.PENDING, batch="", claimed_until=None
        )
    if adopted:
        logger.info("handover #%s: adopted %d transfers WeCom already had", handover.pk, adopted)
    return adopted


def item_results_apply(
    *,
    handover: Handover,
    items: list[TransferItem],
    latest: dict[str, dict[str, Any]],
    adopted: bool = False,
) -> None:
    """Bring items in step with WeCom's rows (external_userid -> row)."""
    now = timezone.now()
    accepted, changed, refused = [], [], []
    for item in items:
        row = latest.get(item.external_id)
        if row is None:
            if item.status == TransferItem.Status.WAITING and (
                item.takeover_time is None or item.takeover_time + MISSING_GRACE < now
            ):
                _finish(item, TransferItem.Status.FAILED, error=NO_RECORD)
                changed.append(item)
            continue
        status = RESULT_STATUS.get(int(row.get("status") or 0))
        when = _ts(row.get("takeover_time"))
        if adopted and item.sent_at is None:
            item.sent_at = (item.claimed_until or now) - lease()
        if status is None:
            _finish(item, TransferItem.Status.FAILED, error=NO_RECORD)
        elif status == TransferItem.Status.WAITING:
            item.status, item.takeover_time = status, when or item.takeover_time
        elif status == TransferItem.Status.REFUSED:
            lost = handover.kind == Handover.Kind.RESIGNED
            _finish(item, TransferItem.Status.LOST if lost else TransferItem.Status.REFUSED)
            item.takeover_time = when
            refused.append(item)
        else:
            _finish(item, status)
            item.takeover_time = when or now
            if status == TransferItem.Status.ACCEPTED:
                accepted.append(item)
        item.claimed_until = None
        changed.append(item)
    with transaction.atomic():
        _save(changed)
        if accepted:
            relations_move(items=accepted)
        if refused:
            _refusals_record(handover, refused)


def relations_move(*, items: list[TransferItem]) -> None:
    """Accepted customers: the old relation ends as transferred, the taker's starts (a copy
    of remark, phones, tags and channel, as WeCom keeps them), and the timeline says so on
    both sides. Idempotent; an older result never overrides a newer status."""
    ids = [i.pk for i in items if i.target == TransferItem.Target.CUSTOMER]
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_relation (guide_id, customer_id, remark, description,
                remark_corp_name, remark_mobiles, add_way, state, channel_id, state_unknown,
                oper_userid, wecom_tag_ids, added_at, status, status_changed_at,
                confirmed_at, updated_at)
            SELECT t.to_guide_id, r.customer_id, r.remark, r.description, r.remark_corp_name,
                r.remark_mobiles, r.add_way, r.state, r.channel_id, r.state_unknown,
                r.oper_userid, r.wecom_tag_ids, t.takeover_time, 'active', t.takeover_time,
                now(), now()
            FROM handover_transferitem t
            JOIN contacts_relation r ON r.guide_id = t.from_guide_id
                AND r.customer_id = t.customer_id
            WHERE t.id = ANY(%(ids)s)
            ON CONFLICT (guide_id, customer_id) DO UPDATE SET status = 'active',
                deleted_at = NULL, status_changed_at = EXCLUDED.status_changed_at,
                confirmed_at = EXCLUDED.confirmed_at, updated_at = EXCLUDED.updated_at
            WHERE contacts_relation.status <> 'active' AND (
                contacts_relation.status_changed_at IS NULL
                OR contacts_relation.status_changed_at < EXCLUDED.status_changed_at)
            """,
            {"ids": ids},
        )
        cursor.execute(
            """
            UPDATE contacts_relation r SET status = 'transferred',
                status_changed_at = t.takeover_time, deleted_at = t.takeover_time,
                updated_at = now()
            FROM handover_transferitem t
            WHERE t.id = ANY(%(ids)s) AND r.guide_id = t.from_guide_id
              AND r.customer_id = t.customer_id AND r.status = 'active'
              AND (r.status_changed_at IS NULL OR r.status_changed_at <= t.takeover_time)
            """,
            {"ids": ids},
        )
    names = _guide_labels(items)
    events = []
    for item in items:
        if item.target != TransferItem.Target.CUSTOMER or item.customer_id is None:
            continue
        at = item.takeover_time or timezone.now()
        events += [
            CustomerEvent(
                customer_id=item.customer_id,
                kind=CustomerEvent.Kind.TRANSFERRED,
                occurred_at=at,
                guide_id=item.from_guide_id,
                data={"to": names.get(item.to_guide_id or 0, ""), "handover": item.handover_id},
                dedupe_key=f"handover-item:{item.pk}:out",
            ),
            CustomerEvent(
                customer_id=item.customer_id,
                kind=CustomerEvent.Kind.TRANSFERRED,
                occurred_at=at,
                guide_id=item.to_guide_id,
                data={"from": names.get(item.from_guide_id, ""), "handover": item.handover_id},
                dedupe_key=f"handover-item:{item.pk}:in",
            ),
        ]
    CustomerEvent.objects.bulk_create(events, ignore_conflicts=True, batch_size=2000)
    emit_customers_transferred(item_ids=ids)


def _guide_labels(items: list[TransferItem]) -> dict[int, str]:
    ids = {i.from_guide_id for i in items} | {i.to_guide_id for i in items if i.to_guide_id}
    return {
        pk: f"{name} ({userid})"
        for pk, name, userid in Guide.objects.filter(pk__in=ids).values_list("pk", "name", "userid")
    }


def _refusals_record(handover: Handover, items: list[TransferItem]) -> None:
    """A refused on-duty move stays with the guide; a refused resigned transfer loses the
    customer (WeCom removes them from the departed guide)."""
    from contacts.models import Relation

    lost = [i for i in items if i.status == TransferItem.Status.LOST]
    for item in lost:
        at = item.takeover_time or timezone.now()
        Relation.objects.filter(
            guide_id=item.from_guide_id,
            customer_id=item.customer_id or 0,
            status=Relation.Status.ACTIVE,
        ).update(
            status=Relation.Status.DELETED_BY_CUSTOMER,
            status_changed_at=at,
            deleted_at=at,
            updated_at=timezone.now(),
        )
    CustomerEvent.objects.bulk_create(
        [
            CustomerEvent(
                customer_id=item.customer_id,
                kind=CustomerEvent.Kind.TRANSFER_FAILED,
                occurred_at=item.takeover_time or timezone.now(),
                guide_id=item.from_guide_id,
                data={
                    "reason": "refused by the customer, lost"
                    if item.status == TransferItem.Status.LOST
                    else "refused by the customer, stays",
                    "handover": handover.pk,
                },
                dedupe_key=f"handover-item:{item.pk}:refused",
            )
            for item in items
            if item.customer_id is not None
        ],
        ignore_conflicts=True,
    )


def handover_poll(*, handover_id: int, client: WeComClient | None = None) -> str:
    """Read WeCom's results for every guide pair with waiting items; returns the status."""
    handover = Handover.objects.get(pk=handover_id)
    if handover.status not in (Handover.Status.WAITING, Handover.Status.SENDING):
        return handover.status
    client = client or wecom_client(app_kind="customer_contact", priority="bulk")
    waiting = handover.items.filter(
        status=TransferItem.Status.WAITING, target=TransferItem.Target.CUSTOMER
    ).select_related("from_guide", "to_guide")
    for (_from, _to), items in _pairs(waiting.iterator(chunk_size=5000)).items():
        latest = _latest_by_customer(_results(client, handover.kind, items))
        for start in range(0, len(items), 2000):
            item_results_apply(handover=handover, items=items[start : start + 2000], latest=latest)
    interval = timedelta(seconds=settings.HANDOVER_POLL_SECONDS)
    Handover.objects.filter(pk=handover.pk).update(
        polled_at=timezone.now(), next_poll_at=timezone.now() + interval
    )
    takers_notify(handover_id=handover.pk)
    return handover_finish_if_final(handover_id=handover.pk)


def handover_finish_if_final(*, handover_id: int) -> str:
    """Done when no item is on its way any more."""
    handover = Handover.objects.get(pk=handover_id)
    if handover.status != Handover.Status.WAITING:
        return handover.status
    if handover.items.filter(status__in=TransferItem.IN_FLIGHT).exists():
        return handover.status
    if Handover.objects.filter(pk=handover.pk, status=Handover.Status.WAITING).update(
        status=Handover.Status.DONE, finished_at=timezone.now(), next_poll_at=None
    ):
        emit_handover_finished(handover_id=handover.pk)
    return Handover.Status.DONE


def takers_notify(*, handover_id: int) -> int:
    """Tell each taker which customers they received (once per item); returns messages sent."""
    from scrm.wecom.notifications import NotificationNotPossible, guide_notify

    items = list(
        TransferItem.objects.filter(
            handover_id=handover_id,
            target=TransferItem.Target.CUSTOMER,
            status=TransferItem.Status.ACCEPTED,
            notified_at__isnull=True,
        ).select_related("customer", "to_guide", "from_guide")
    )
    by_taker: dict[int, list[TransferItem]] = defaultdict(list)
    for item in items:
        if item.to_guide_id:
            by_taker[item.to_guide_id].append(item)
    sent = 0
    for taker_items in by_taker.values():
        taker = taker_items[0].to_guide
        assert taker is not None
        givers = sorted({i.from_guide.name for i in taker_items})
        names = [i.customer.name or i.external_id for i in taker_items[:10] if i.customer]
        more = "" if len(taker_items) <= 10 else f" 等 {len(taker_items)} 位"
        text = (
            f"【客户继承】您已接手 {'、'.join(givers)} 的 {len(taker_items)} 位客户："
            f"{'、'.join(names)}{more}。请尽快跟进。"
        )
        try:
            guide_notify(userids=[taker.userid], text=text)
        except NotificationNotPossible:
            pass
        except WeComError as exc:
            logger.warning("handover #%s: taker %s not told: %s", handover_id, taker.userid, exc)
            continue
        TransferItem.objects.filter(pk__in=[i.pk for i in taker_items]).update(
            notified_at=timezone.now()
        )
        sent += 1
    return sent
