"""Welcome messages (欢迎语): sent first, from what the add event carries, within 20 s.

The handler runs first in the registry (order 0) on the high-priority queue, before the
contact book fetches anything: it reads State, UserID and WelcomeCode from the event,
picks the message (the channel's, else the guide's, the store's, the default), fills the
placeholders from what the database already knows, and calls send_welcome_msg with the
limiter's reserved welcome share. The 20 s are counted from the event's CreateTime: a code
already past them is recorded as expired and not sent.

Every event gets one `WelcomeLog` row. A rerun (crash, retry) of the same event finds it:
a final outcome is never sent again; a row left `pending` by a crash is sent again, which
is safe because WeCom takes a welcome code once (a second use is refused, never
delivered twice).
"""

import re
import time as clock
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from channels_qr.models import (
    WELCOME_WINDOW_SECONDS,
    Channel,
    LiveCode,
    WelcomeLog,
    WelcomeMessage,
)
from contacts.models import Customer, Guide
from scrm.wecom.client import WeComClient, wecom_client
from scrm.wecom.errors import WeComError
from scrm.wecom.media import message_attachments

PLACEHOLDERS = {
    "nickname": ("{客户昵称}", "{nickname}"),
    "guide": ("{导购姓名}", "{guide_name}"),
}
RETRY_PAUSE = 1.0  # seconds between attempts on 41096 or a transient failure
ERR_ALREADY_DELIVERED = 41051
ERR_BEING_DISTRIBUTED = 41096
PENDING = "pending"


@dataclass
class Welcome:
    channel: Channel | None
    text: str
    attachments: list[dict[str, Any]]


def welcome_render(text: str, *, nickname: str, guide_name: str) -> str:
    """Fill the placeholders; one whose value is unknown is left out, with the space or
    comma that would dangle ("{客户昵称}，你好" -> "你好")."""
    values = {"nickname": nickname.strip(), "guide": guide_name.strip()}
    for key, tokens in PLACEHOLDERS.items():
        for token in tokens:
            if values[key]:
                text = text.replace(token, values[key])
            else:
                text = re.sub(re.escape(token) + r"[ \t]*[，,、]?[ \t]*", "", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def channel_of_state(state: str) -> Channel | None:
    """The channel whose live code has this state (None for no state or another tool's)."""
    code = LiveCode.objects.select_related("channel").filter(state=state).first() if state else None
    return code.channel if code else None


def welcome_choose(*, channel: Channel | None, userid: str) -> Welcome | None:
    """The channel's welcome, else the guide's, the store's, the default."""
    if channel is not None and (channel.welcome_text or channel.welcome_attachments):
        return Welcome(channel, channel.welcome_text, list(channel.welcome_attachments))
    guide = Guide.objects.filter(userid=userid).values("pk", "store_id").first()
    wanted = Q(scope=WelcomeMessage.Scope.DEFAULT)
    if guide is not None:
        wanted |= Q(scope=WelcomeMessage.Scope.GUIDE, guide_id=guide["pk"])
        if guide["store_id"] is not None:
            wanted |= Q(scope=WelcomeMessage.Scope.STORE, store_id=guide["store_id"])
    messages = {m.scope: m for m in WelcomeMessage.objects.filter(wanted)}
    for scope in (
        WelcomeMessage.Scope.GUIDE,
        WelcomeMessage.Scope.STORE,
        WelcomeMessage.Scope.DEFAULT,
    ):
        message = messages.get(scope)
        if message is not None and (message.text or message.attachments):
            return Welcome(channel, message.text, list(message.attachments))
    return None


def _claim(event_id: int, **fields: Any) -> WelcomeLog | None:
    """The event's log row, created pending; None when an earlier run already finished."""
    try:
        with transaction.atomic():
            return WelcomeLog.objects.create(event_id=event_id, outcome=PENDING, **fields)
    except IntegrityError:
        log = WelcomeLog.objects.get(event_id=event_id)
        return log if log.outcome == PENDING else None


def _finish(
    log: WelcomeLog, outcome: str, *, errcode: int | None = None, error: str = ""
) -> WelcomeLog:
    log.outcome, log.errcode, log.error, log.done_at = outcome, errcode, error[:300], timezone.now()
    log.save(update_fields=["outcome", "errcode", "error", "done_at"])
    return log


def welcome_send(
    *,
    event_id: int,
    state: str,
    userid: str,
    external_userid: str,
    welcome_code: str,
    event_at: datetime,
    client: WeComClient | None = None,
    now: Any = None,
) -> WelcomeLog | None:
    """Send (or record why not) the welcome of one add event. Returns its log, or None when
    an earlier run of the same event already finished it."""
    now_fn = now or timezone.now
    channel = channel_of_state(state)
    log = _claim(
        event_id,
        channel=channel,
        state=state[:64],
        userid=userid,
        external_userid=external_userid,
        event_at=event_at,
    )
    if log is None:
        return None
    if not welcome_code:
        return _finish(log, WelcomeLog.Outcome.NO_CODE)
    deadline = event_at + timedelta(seconds=WELCOME_WINDOW_SECONDS)
    if now_fn() >= deadline:
        return _finish(log, WelcomeLog.Outcome.EXPIRED)
    welcome = welcome_choose(channel=channel, userid=userid)
    if welcome is None:
        return _finish(log, WelcomeLog.Outcome.NOTHING)
    guide = Guide.objects.filter(userid=userid).values_list("name", flat=True).first() or ""
    nickname = (
        Customer.objects.filter(external_userid=external_userid)
        .values_list("name", flat=True)
        .first()
        or ""
    )
    text = welcome_render(welcome.text, nickname=nickname, guide_name=guide)
    while True:
        remaining = (deadline - now_fn()).total_seconds()
        if remaining <= 0:
            return _finish(log, WelcomeLog.Outcome.EXPIRED)
        sender = client or wecom_client(
            app_kind="customer_contact", priority="welcome", max_wait=remaining
        )
        body: dict[str, Any] = {"welcome_code": welcome_code}
        if text:
            body["text"] = {"content": text}
        try:
            attachments = message_attachments(welcome.attachments, sender)
            if attachments:
                body["attachments"] = attachments
            sender.post("externalcontact/send_welcome_msg", data=body)
        except WeComError as exc:
            if exc.errcode == ERR_ALREADY_DELIVERED:
                return _finish(log, WelcomeLog.Outcome.ALREADY, errcode=exc.errcode)
            retry = exc.errcode == ERR_BEING_DISTRIBUTED or exc.transient
            if retry and (deadline - now_fn()).total_seconds() > RETRY_PAUSE:
                clock.sleep(RETRY_PAUSE)
                continue
            outcome = WelcomeLog.Outcome.EXPIRED if retry else WelcomeLog.Outcome.FAILED
            return _finish(log, outcome, errcode=exc.errcode, error=exc.meaning or str(exc))
        return _finish(log, WelcomeLog.Outcome.SENT)
