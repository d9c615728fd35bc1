"""Creating a group send's message templates in WeCom, one chunk at a time, never twice.

- Chunks: planned deliveries grouped by sender, at most 10,000 per chunk (WeCom's limit per
  template), written once in SQL.
- A chunk is claimed with a conditional UPDATE (`claimed`, with a claim that runs out), its
  template created through the rate limiter, and the msgid saved with the chunk's state and
  its deliveries' in one transaction.
- A chunk still `claimed` after its claim ran out belongs to a worker that died, perhaps
  after WeCom created the template. WeCom has no idempotency key, so before it is created
  again the sender's templates of that time window are read (get_groupmsg_list_v2) and one
  with the same text, attachments and recipients is adopted.
"""

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from broadcast.models import (
    NOT_A_CUSTOMER_IN_WECOM,
    TEMPLATE_MAX_CHATS,
    TEMPLATE_MAX_CUSTOMERS,
    Broadcast,
    Chunk,
    Delivery,
)
from contacts.models import Guide
from scrm.wecom.client import WeComClient, wecom_client
from scrm.wecom.errors import WeComError
from scrm.wecom.media import message_attachments
from webhooks.emit import emit_broadcast_finished

logger = logging.getLogger(__name__)

GUIDE_NAME = "{guide_name}"
# A template's create_time may differ a little from the time of our claim.
WINDOW_SLACK = timedelta(minutes=2)


class BroadcastNotClaimed(Exception):
    """Another worker holds the broadcast, or it is not dispatching."""


def lease() -> timedelta:
    return timedelta(seconds=settings.BROADCAST_LEASE_SECONDS)


def sender_text(text: str, sender: Guide) -> str:
    """One template carries one text: placeholders are the sender's only."""
    return text.replace(GUIDE_NAME, sender.name)


# --- chunks ------------------------------------------------------------------------------


def chunks_create(*, broadcast: Broadcast) -> int:
    """Group the planned deliveries by sender into chunks, once; returns chunks created."""
    size = (
        TEMPLATE_MAX_CHATS
        if broadcast.chat_type == Broadcast.ChatType.GROUP
        else TEMPLATE_MAX_CUSTOMERS
    )
    size = min(size, settings.BROADCAST_CHUNK_SIZE)
    with transaction.atomic():
        Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if Chunk.objects.filter(broadcast=broadcast).exists():
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH numbered AS (
                    SELECT id, sender_id,
                        (row_number() OVER (PARTITION BY sender_id ORDER BY id) - 1) / %(size)s
                            AS number
                    FROM broadcast_delivery
                    WHERE broadcast_id = %(b)s AND status = 'planned'
                ), chunks AS (
                    INSERT INTO broadcast_chunk (broadcast_id, sender_id, number, status,
                        recipients, msgid, reminders, error)
                    SELECT %(b)s, sender_id, number, 'pending', count(*), '', '{}', ''
                    FROM numbered GROUP BY sender_id, number
                    RETURNING id, sender_id, number
                )
                UPDATE broadcast_delivery d SET chunk_id = chunks.id
                FROM numbered JOIN chunks USING (sender_id, number)
                WHERE d.id = numbered.id
                """,
                {"b": broadcast.pk, "size": size},
            )
        return Chunk.objects.filter(broadcast=broadcast).count()


def _claim_chunk(broadcast: Broadcast) -> Chunk | None:
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE broadcast_chunk SET status = 'claimed', claimed_at = %(now)s,
                claimed_until = %(until)s
            WHERE id = (
                SELECT id FROM broadcast_chunk
                WHERE broadcast_id = %(b)s AND status = 'pending'
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
            ) AND status = 'pending'
            RETURNING id
            """,
            {"b": broadcast.pk, "now": now, "until": now + lease()},
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Chunk.objects.select_related("sender").get(pk=row[0])


def _targets(chunk: Chunk) -> list[str]:
    return list(chunk.deliveries.order_by("id").values_list("target", flat=True))


def template_body(broadcast: Broadcast, chunk: Chunk, client: WeComClient) -> dict[str, Any]:
    body: dict[str, Any] = {
        "chat_type": broadcast.chat_type,
        "sender": chunk.sender.userid,
    }
    if broadcast.chat_type == Broadcast.ChatType.GROUP:
        body["chat_id_list"] = _targets(chunk)
    else:
        body["external_userid"] = _targets(chunk)
    text = sender_text(broadcast.text, chunk.sender)
    if text:
        body["text"] = {"content": text}
    if broadcast.attachments:
        body["attachments"] = message_attachments(list(broadcast.attachments), client)
    return body


def _created(chunk: Chunk, msgid: str, failed: set[str], at: datetime) -> None:
    """The template exists in WeCom: the chunk and its deliveries say so together."""
    with transaction.atomic():
        Chunk.objects.filter(pk=chunk.pk).update(
            status=Chunk.Status.CREATED, msgid=msgid, created_in_wecom_at=at, claimed_until=None
        )
        deliveries = Delivery.objects.filter(chunk=chunk, status=Delivery.Status.PLANNED)
        if failed:
            deliveries.filter(target__in=failed).update(
                status=Delivery.Status.FAILED, error=NOT_A_CUSTOMER_IN_WECOM
            )
        deliveries.exclude(target__in=failed).update(status=Delivery.Status.WAITING)


def _chunk_failed(chunk: Chunk, exc: WeComError) -> None:
    with transaction.atomic():
        Chunk.objects.filter(pk=chunk.pk).update(
            status=Chunk.Status.FAILED,
            errcode=exc.errcode,
            error=(exc.meaning or str(exc))[:300],
            claimed_until=None,
        )
        Delivery.objects.filter(chunk=chunk, status=Delivery.Status.PLANNED).update(
            status=Delivery.Status.FAILED,
            errcode=exc.errcode,
            error=(exc.meaning or str(exc))[:300],
        )


def _create(broadcast: Broadcast, chunk: Chunk, client: WeComClient) -> None:
    body = template_body(broadcast, chunk, client)
    try:
        response = client.post("externalcontact/add_msg_template", data=body)
    except WeComError as exc:
        if exc.transient:
            # WeCom may or may not have it: the next run looks before creating again.
            Chunk.objects.filter(pk=chunk.pk).update(
                claimed_until=timezone.now() - timedelta(seconds=1)
            )
            raise
        _chunk_failed(chunk, exc)
        return
    failed = {str(t) for t in response.get("fail_list") or []}
    _created(chunk, str(response["msgid"]), failed, timezone.now())


# --- looking for templates a dead worker created -----------------------------------------


def _wecom_templates(
    client: WeComClient, chat_type: str, creator: str, start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    cursor = ""
    while True:
        response = client.post(
            "externalcontact/get_groupmsg_list_v2",
            data={
                "chat_type": chat_type,
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
                "creator": creator,
                "filter_type": 0,
                "limit": 100,
                "cursor": cursor,
            },
        )
        yield from response.get("group_msg_list") or []
        cursor = str(response.get("next_cursor") or "")
        if not cursor:
            return


def _recipients(client: WeComClient, msgid: str, userid: str, chat_type: str) -> set[str]:
    field = "chat_id" if chat_type == Broadcast.ChatType.GROUP else "external_userid"
    found: set[str] = set()
    cursor = ""
    while True:
        response = client.post(
            "externalcontact/get_groupmsg_send_result",
            data={"msgid": msgid, "userid": userid, "limit": 1000, "cursor": cursor},
        )
        found |= {str(row.get(field)) for row in response.get("send_list") or []}
        cursor = str(response.get("next_cursor") or "")
        if not cursor:
            return found


def _find_created(broadcast: Broadcast, chunk: Chunk, client: WeComClient) -> str | None:
    """The msgid of the template a dead worker created for this chunk, if WeCom has one."""
    claimed_at = chunk.claimed_at or timezone.now()
    text = sender_text(broadcast.text, chunk.sender)
    targets = set(_targets(chunk))
    # Templates already recorded for another chunk are not this one's.
    adopted = set(
        Chunk.objects.filter(
            sender=chunk.sender, created_in_wecom_at__gte=claimed_at - WINDOW_SLACK
        )
        .exclude(msgid="")
        .values_list("msgid", flat=True)
    )
    for template in _wecom_templates(
        client,
        broadcast.chat_type,
        chunk.sender.userid,
        claimed_at - WINDOW_SLACK,
        timezone.now() + WINDOW_SLACK,
    ):
        msgid = str(template.get("msgid") or "")
        if not msgid or msgid in adopted:
            continue
        if str((template.get("text") or {}).get("content") or "") != text:
            continue
        if len(template.get("attachments") or []) != len(broadcast.attachments or []):
            continue
        if not targets <= _recipients(client, msgid, chunk.sender.userid, broadcast.chat_type):
            continue
        return msgid
    return None


def chunks_reconcile(*, broadcast: Broadcast, client: WeComClient) -> int:
    """Chunks whose worker died: adopt the template WeCom already has, else create again.
    Returns how many were adopted."""
    stale = Chunk.objects.filter(
        broadcast=broadcast, status=Chunk.Status.CLAIMED, claimed_until__lt=timezone.now()
    ).select_related("sender")
    adopted = 0
    for chunk in stale:
        msgid = _find_created(broadcast, chunk, client)
        if msgid is None:
            Chunk.objects.filter(pk=chunk.pk, status=Chunk.Status.CLAIMED).update(
                status=Chunk.Status.PENDING, claimed_until=None
            )
            continue
        targets = set(_targets(chunk))
        recipients = _recipients(client, msgid, chunk.sender.userid, broadcast.chat_type)
        _created(chunk, msgid, targets - recipients, chunk.claimed_at or timezone.now())
        adopted += 1
        logger.info("broadcast #%s: adopted template %s of chunk %s", broadcast.pk, msgid, chunk.pk)
    return adopted


# --- the job -----------------------------------------------------------------------------


def _cancelled_meanwhile(broadcast: Broadcast, client: WeComClient) -> None:
    """The operator cancelled while a template was being created: cancel it in WeCom too."""
    from broadcast.services import chunk_cancel

    for chunk in Chunk.objects.filter(broadcast=broadcast, status=Chunk.Status.CREATED):
        chunk_cancel(chunk, client, Delivery.Status.CANCELLED)


def broadcast_claim(*, broadcast_id: int) -> Broadcast:
    now = timezone.now()
    claimed = (
        Broadcast.objects.filter(pk=broadcast_id, status=Broadcast.Status.DISPATCHING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + lease())
    )
    if not claimed:
        raise BroadcastNotClaimed(broadcast_id)
    return Broadcast.objects.get(pk=broadcast_id)


def _renew(broadcast: Broadcast) -> bool:
    return bool(
        Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.DISPATCHING).update(
            lease_until=timezone.now() + lease()
        )
    )


def broadcast_dispatch(
    *, broadcast_id: int, max_chunks: int | None = None, client: WeComClient | None = None
) -> str:
    """Create the broadcast's templates (at most `max_chunks` this time); returns the status.
    Raises BroadcastNotClaimed when another worker holds it."""
    broadcast = broadcast_claim(broadcast_id=broadcast_id)
    client = client or wecom_client(app_kind="customer_contact", priority="bulk")
    try:
        chunks_create(broadcast=broadcast)
        chunks_reconcile(broadcast=broadcast, client=client)
        done = 0
        while max_chunks is None or done < max_chunks:
            chunk = _claim_chunk(broadcast)
            if chunk is None:
                break
            _create(broadcast, chunk, client)
            done += 1
            if not _renew(broadcast):
                _cancelled_meanwhile(broadcast, client)
                break
        left = Chunk.objects.filter(
            broadcast=broadcast, status__in=[Chunk.Status.PENDING, Chunk.Status.CLAIMED]
        ).exists()
        if not left:
            created = Chunk.objects.filter(
                broadcast=broadcast, status__in=[Chunk.Status.CREATED, Chunk.Status.SENT]
            ).exists()
            dispatching = Broadcast.objects.filter(
                pk=broadcast.pk, status=Broadcast.Status.DISPATCHING
            )
            if created:
                dispatching.update(
                    status=Broadcast.Status.WAITING,
                    dispatched_at=timezone.now(),
                    next_sync_at=timezone.now(),
                )
            else:
                # WeCom refused every template: nothing will reach anyone.
                failed = Chunk.objects.filter(broadcast=broadcast).exclude(error="").first()
                if dispatching.update(
                    status=Broadcast.Status.FAILED,
                    dispatched_at=timezone.now(),
                    finished_at=timezone.now(),
                    error=(failed.error if failed else "")[:300],
                ):
                    emit_broadcast_finished(broadcast_id=broadcast.pk)
        return Broadcast.objects.values_list("status", flat=True).get(pk=broadcast.pk)
    finally:
        Broadcast.objects.filter(pk=broadcast.pk).update(lease_until=None)
