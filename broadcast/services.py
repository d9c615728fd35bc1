"""Group sends: creating, confirming (audit-logged), scheduling around quiet hours,
reading WeCom's results until final or the deadline, reminding guides, cancelling."""

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from broadcast.models import (
    ATTACHMENTS_MAX,
    TEXT_MAX_BYTES,
    Broadcast,
    Chunk,
    Delivery,
)
from broadcast.planning import BroadcastInputError, broadcast_counts
from contacts.models import Store
from scrm.wecom.client import WeComClient, wecom_client
from scrm.wecom.errors import WeComError
from webhooks.emit import emit_broadcast_finished

logger = logging.getLogger(__name__)

AUDIENCE_MAX = 1_000_000  # explicit ids per broadcast (CSV or chosen)
REMINDS_PER_24H = 3  # WeCom's limit per template
SEND_RESULT: dict[int, str] = {
    1: Delivery.Status.SENT,
    2: Delivery.Status.NOT_FRIEND,
    3: Delivery.Status.CAPPED,
    0: Delivery.Status.NOT_SENT,  # the guide sent, but deselected this customer
}


def _actor_label(actor: Any) -> str:
    if actor is None:
        return ""
    return str(getattr(actor, "get_username", lambda: actor)())


@dataclass
class BroadcastData:
    name: str
    audience: str
    text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    chat_type: str = Broadcast.ChatType.SINGLE
    segment_id: int | None = None
    audience_ids: list[str] = field(default_factory=list)
    file_name: str = ""
    sender_rule: str = Broadcast.SenderRule.RECENT
    sender_store_id: int | None = None
    send_at: datetime | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    deadline: datetime | None = None


def _clean(data: BroadcastData) -> dict[str, Any]:
    name = data.name.strip()
    if not name:
        raise BroadcastInputError(_("give the group send a name"))
    text = data.text.strip()
    if not text and not data.attachments:
        raise BroadcastInputError(_("write the text or add an attachment"))
    if len(text.encode()) > TEXT_MAX_BYTES:
        raise BroadcastInputError(
            _("the text is longer than WeCom allows (%(n)d bytes)") % {"n": TEXT_MAX_BYTES}
        )
    if len(data.attachments) > ATTACHMENTS_MAX:
        raise BroadcastInputError(
            _("at most %(n)d attachments per message") % {"n": ATTACHMENTS_MAX}
        )
    from channels_qr.welcome_messages import WelcomeInputError, attachments_check

    try:  # the same shapes and media library checks as welcome messages
        attachments = attachments_check(list(data.attachments))
    except WelcomeInputError as exc:
        raise BroadcastInputError(str(exc)) from exc
    if data.chat_type not in Broadcast.ChatType.values:
        raise BroadcastInputError(_("send to customers or to group chats"))
    group = data.chat_type == Broadcast.ChatType.GROUP
    if data.audience not in Broadcast.Audience.values:
        raise BroadcastInputError(_("choose the audience"))
    if group != (data.audience == Broadcast.Audience.CHATS):
        raise BroadcastInputError(_("group chats are chosen as the audience of a chat send"))
    if data.audience == Broadcast.Audience.SEGMENT and data.segment_id is None:
        raise BroadcastInputError(_("choose the segment"))
    ids = list(dict.fromkeys(i.strip() for i in data.audience_ids if i and i.strip()))
    if data.audience in (Broadcast.Audience.CSV, Broadcast.Audience.CUSTOMERS, "chats"):
        if not ids:
            raise BroadcastInputError(_("the audience is empty"))
        if len(ids) > AUDIENCE_MAX:
            raise BroadcastInputError(_("at most %(n)d recipients") % {"n": AUDIENCE_MAX})
    if data.sender_rule not in Broadcast.SenderRule.values:
        raise BroadcastInputError(_("choose who sends"))
    if data.sender_rule == Broadcast.SenderRule.STORE and data.sender_store_id is None:
        raise BroadcastInputError(_("choose the store whose guides send"))
    if (
        data.sender_store_id is not None
        and not Store.objects.filter(pk=data.sender_store_id).exists()
    ):
        raise BroadcastInputError(_("no such store"))
    if (data.quiet_start is None) != (data.quiet_end is None):
        raise BroadcastInputError(_("quiet hours need a start and an end"))
    now = timezone.now()
    if data.deadline is not None and data.deadline <= max(now, data.send_at or now):
        raise BroadcastInputError(_("the deadline must be after the send time"))
    return {
        "name": name[:200],
        "text": text,
        "attachments": attachments,
        "chat_type": data.chat_type,
        "audience": data.audience,
        "segment_id": data.segment_id,
        "audience_ids": ids,
        "file_name": data.file_name[:200],
        "sender_rule": data.sender_rule,
        "sender_store_id": data.sender_store_id,
        "send_at": data.send_at,
        "quiet_start": data.quiet_start,
        "quiet_end": data.quiet_end,
        "deadline": data.deadline,
    }


def broadcast_create(*, data: BroadcastData, actor: Any = None) -> Broadcast:
    return Broadcast.objects.create(**_clean(data), created_by=_actor_label(actor))


def in_quiet_hours(broadcast: Broadcast, at: datetime) -> datetime | None:
    """The end of the quiet hours `at` falls in (None when it does not). A window may span
    midnight (22:00-08:00)."""
    start, end = broadcast.quiet_start, broadcast.quiet_end
    if start is None or end is None or start == end:
        return None
    local = timezone.localtime(at)
    now = local.time()
    if start < end:
        inside = start <= now < end
        day = local.date()
    else:
        inside = now >= start or now < end
        day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=local.tzinfo)


def dispatch_time(broadcast: Broadcast, now: datetime) -> datetime:
    """When the templates are created: the chosen time, moved out of the quiet hours."""
    at = max(now, broadcast.send_at or now)
    return in_quiet_hours(broadcast, at) or at


def _enqueue_dispatch(broadcast: Broadcast) -> None:
    from broadcast.tasks import broadcast_dispatch_task
    from scrm.tenant_tasks import enqueue

    enqueue(broadcast_dispatch_task, broadcast_id=broadcast.pk)


def broadcast_confirm(
    *, broadcast: Broadcast, actor: Any = None, request: HttpRequest | None = None
) -> Broadcast:
    """The operator confirms the plan: the templates are created now or when scheduled."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status != Broadcast.Status.READY:
            raise BroadcastInputError(_("only a planned group send can be confirmed"))
        counts = broadcast_counts(broadcast)
        if not counts.get(Delivery.Status.PLANNED):
            raise BroadcastInputError(_("no customer of this group send can be reached"))
        now = timezone.now()
        at = dispatch_time(broadcast, now)
        if broadcast.deadline is not None and at >= broadcast.deadline:
            raise BroadcastInputError(
                _("the messages would be created after the deadline: move the deadline")
            )
        broadcast.confirmed_by, broadcast.confirmed_at = _actor_label(actor), now
        if at > now:
            broadcast.status, broadcast.send_at = Broadcast.Status.SCHEDULED, at
        else:
            broadcast.status = Broadcast.Status.DISPATCHING
        broadcast.save(update_fields=["confirmed_by", "confirmed_at", "status", "send_at"])
        audit_record(
            action="broadcast.confirmed",
            actor=actor,
            target=broadcast,
            detail={"name": broadcast.name, "counts": counts, "at": at.isoformat()},
            request=request,
        )
        if broadcast.status == Broadcast.Status.DISPATCHING:
            _enqueue_dispatch(broadcast)
    return broadcast


def scheduled_start_due(*, now: datetime | None = None) -> list[int]:
    """Scheduled group sends whose time came (and that are out of quiet hours) start."""
    now = now or timezone.now()
    started = []
    for broadcast in Broadcast.objects.filter(status=Broadcast.Status.SCHEDULED, send_at__lte=now):
        later = in_quiet_hours(broadcast, now)
        if later is not None:
            Broadcast.objects.filter(pk=broadcast.pk).update(send_at=later)
            continue
        with transaction.atomic():
            if Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.SCHEDULED).update(
                status=Broadcast.Status.DISPATCHING
            ):
                _enqueue_dispatch(broadcast)
                started.append(broadcast.pk)
    return started


# --- results -----------------------------------------------------------------------------


def _task_sent(client: WeComClient, chunk: Chunk) -> datetime | None:
    """When the chunk's guide sent it (None: not yet)."""
    cursor = ""
    while True:
        response = client.post(
            "externalcontact/get_groupmsg_task",
            data={"msgid": chunk.msgid, "limit": 1000, "cursor": cursor},
        )
        for task in response.get("task_list") or []:
            if task.get("userid") == chunk.sender.userid and int(task.get("status") or 0) == 2:
                seconds = int(task.get("send_time") or 0)
                return (
                    datetime.fromtimestamp(seconds, tz=timezone.get_current_timezone())
                    if seconds
                    else timezone.now()
                )
        cursor = str(response.get("next_cursor") or "")
        if not cursor:
            return None


def _results_save(broadcast: Broadcast, chunk: Chunk, client: WeComClient, sent: datetime) -> None:
    field = "chat_id" if broadcast.chat_type == Broadcast.ChatType.GROUP else "external_userid"
    by_status: dict[str, list[str]] = {}
    times: dict[str, datetime] = {}
    cursor = ""
    while True:
        response = client.post(
            "externalcontact/get_groupmsg_send_result",
            data={
                "msgid": chunk.msgid,
                "userid": chunk.sender.userid,
                "limit": 1000,
                "cursor": cursor,
            },
        )
        for row in response.get("send_list") or []:
            status = str(SEND_RESULT.get(int(row.get("status") or 0), Delivery.Status.NOT_SENT))
            target = str(row.get(field))
            by_status.setdefault(status, []).append(target)
            seconds = int(row.get("send_time") or 0)
            if seconds:
                times[target] = datetime.fromtimestamp(seconds, tz=timezone.get_current_timezone())
        cursor = str(response.get("next_cursor") or "")
        if not cursor:
            break
    with transaction.atomic():
        waiting = Delivery.objects.filter(chunk=chunk, status=Delivery.Status.WAITING)
        for outcome, targets in by_status.items():
            for start in range(0, len(targets), 5000):
                part = targets[start : start + 5000]
                if outcome in (Delivery.Status.SENT, Delivery.Status.CAPPED):
                    # one statement per distinct send time keeps this set-based
                    stamps: dict[datetime, list[str]] = {}
                    for target in part:
                        stamps.setdefault(times.get(target, sent), []).append(target)
                    # capped: sent_at is when WeCom skipped them (the period it counts for)
                    for stamp, group in stamps.items():
                        waiting.filter(target__in=group).update(status=outcome, sent_at=stamp)
                else:
                    waiting.filter(target__in=part).update(status=outcome)
        # Anyone WeCom did not list was not sent.
        waiting.update(status=Delivery.Status.NOT_SENT)
        Chunk.objects.filter(pk=chunk.pk).update(status=Chunk.Status.SENT, sent_at=sent)


def chunk_cancel(chunk: Chunk, client: WeComClient, status: str) -> None:
    try:
        client.post("externalcontact/cancel_groupmsg_send", data={"msgid": chunk.msgid})
    except WeComError as exc:
        if exc.transient:
            raise
        logger.warning("chunk %s: cancel refused: %s", chunk.pk, exc)
    with transaction.atomic():
        Chunk.objects.filter(pk=chunk.pk).update(status=Chunk.Status.CANCELLED)
        Delivery.objects.filter(chunk=chunk, status=Delivery.Status.WAITING).update(status=status)


def broadcast_sync(*, broadcast_id: int, client: WeComClient | None = None) -> str:
    """Read WeCom's results of every template not final yet; past the deadline, templates
    the guides have not sent are cancelled. Returns the broadcast's status."""
    broadcast = Broadcast.objects.get(pk=broadcast_id)
    if broadcast.status != Broadcast.Status.WAITING:
        return broadcast.status
    client = client or wecom_client(app_kind="customer_contact", priority="bulk")
    now = timezone.now()
    late = broadcast.deadline is not None and now >= broadcast.deadline
    for chunk in broadcast.chunks.filter(status=Chunk.Status.CREATED).select_related("sender"):
        sent = _task_sent(client, chunk)
        if sent is not None:
            _results_save(broadcast, chunk, client, sent)
        elif late:
            chunk_cancel(chunk, client, Delivery.Status.NOT_SENT)
    open_chunks = broadcast.chunks.filter(status=Chunk.Status.CREATED).exists()
    updates: dict[str, Any] = {
        "counts": broadcast_counts(broadcast),
        "next_sync_at": now + timedelta(seconds=settings.BROADCAST_SYNC_SECONDS),
    }
    if not open_chunks:
        updates.update(status=Broadcast.Status.DONE, finished_at=now, next_sync_at=None)
    if (
        Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.WAITING).update(**updates)
        and not open_chunks
    ):
        emit_broadcast_finished(broadcast_id=broadcast.pk)
    return Broadcast.objects.values_list("status", flat=True).get(pk=broadcast.pk)


def broadcast_remind(*, broadcast: Broadcast, actor: Any = None) -> int:
    """Remind the guides who have not sent yet (WeCom: 3 reminders per template per 24 h),
    in WeCom and with an app message. Returns how many guides were reminded."""
    from scrm.wecom.notifications import NotificationNotPossible, guide_notify

    if broadcast.status != Broadcast.Status.WAITING:
        raise BroadcastInputError(_("only a group send waiting for guides can be reminded"))
    client = wecom_client(app_kind="customer_contact", priority="bulk")
    now = timezone.now()
    reminded: list[str] = []
    for chunk in broadcast.chunks.filter(status=Chunk.Status.CREATED).select_related("sender"):
        recent = [at for at in chunk.reminders if now - at < timedelta(hours=24)]
        if len(recent) >= REMINDS_PER_24H:
            continue
        client.post("externalcontact/remind_groupmsg_send", data={"msgid": chunk.msgid})
        Chunk.objects.filter(pk=chunk.pk).update(reminders=[*recent, now])
        reminded.append(chunk.sender.userid)
    userids = list(dict.fromkeys(reminded))
    if userids:
        text = f"【群发提醒】请在企业微信「客户联系 → 群发助手」中确认发送「{broadcast.name}」。"
        with contextlib.suppress(NotificationNotPossible):
            guide_notify(userids=userids, text=text)
    audit_record(
        action="broadcast.reminded", actor=actor, target=broadcast, detail={"guides": userids}
    )
    return len(userids)


def broadcast_cancel(
    *, broadcast: Broadcast, actor: Any = None, request: HttpRequest | None = None
) -> Broadcast:
    """Stop a group send: templates not created are dropped, created ones not sent by their
    guide are cancelled in WeCom. What guides already sent stays sent."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status in (
            Broadcast.Status.DONE,
            Broadcast.Status.CANCELLED,
            Broadcast.Status.FAILED,
        ):
            raise BroadcastInputError(_("this group send is already over"))
        broadcast.status = Broadcast.Status.CANCELLED
        broadcast.finished_at = timezone.now()
        broadcast.save(update_fields=["status", "finished_at"])
        broadcast.chunks.filter(status=Chunk.Status.PENDING).update(status=Chunk.Status.CANCELLED)
        broadcast.deliveries.filter(status=Delivery.Status.PLANNED).update(
            status=Delivery.Status.CANCELLED
        )
        audit_record(action="broadcast.cancelled", actor=actor, target=broadcast, request=request)
    created = list(broadcast.chunks.filter(status=Chunk.Status.CREATED))
    if created:
        client = wecom_client(app_kind="customer_contact", priority="bulk")
        for chunk in created:
            chunk_cancel(chunk, client, Delivery.Status.CANCELLED)
    Broadcast.objects.filter(pk=broadcast.pk).update(counts=broadcast_counts(broadcast))
    emit_broadcast_finished(broadcast_id=broadcast.pk)
    return broadcast
