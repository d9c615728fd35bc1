"""Channels and their live codes: WeCom first, then here.

Creating a channel creates its contact way (type 2, scene 2: a QR code) with the member
list its strategy gives now; editing pushes what changed; deleting deletes the way and
keeps the channel's row (soft delete) for attribution and stats.
"""

import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from channels_qr.models import (
    STATE_MAX,
    WELCOME_ATTACHMENTS_MAX,
    Channel,
    ChannelGroup,
    ChannelGuide,
    ChannelHours,
    LiveCode,
)
from channels_qr.strategies import _store_guides, adds_today, plan_members
from contacts.models import Guide, Store
from scrm.wecom.client import WeComClient, wecom_client
from tagging.services import TagInputError, actor_label, tags_check

STATE_ALPHABET = string.ascii_lowercase + string.digits
WELCOME_TEXT_MAX_BYTES = 4000


class ChannelInputError(ValueError):
    """A channel WeCom would refuse or that makes no sense; nothing was sent."""


@dataclass
class GuideEntry:
    guide_id: int
    daily_cap: int | None = None
    weight: int = 1


@dataclass
class ChannelData:
    name: str
    strategy: str = Channel.Strategy.SEVERAL
    group_id: int | None = None
    is_active: bool = True
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    tag_ids: list[str] = field(default_factory=list)
    welcome_text: str = ""
    welcome_attachments: list[dict[str, Any]] = field(default_factory=list)
    guides: list[GuideEntry] = field(default_factory=list)
    store_id: int | None = None
    backup_guide_id: int | None = None
    # (ISO weekday, start, end): working hours; none = always
    hours: list[tuple[int, time, time]] = field(default_factory=list)
    skip_verify: bool = True


def _client() -> WeComClient:
    return wecom_client(app_kind="customer_contact")


def new_state() -> str:
    """A state no other live code has: "ch" + 12 random characters (WeCom allows 30)."""
    while True:
        state = "ch" + "".join(secrets.choice(STATE_ALPHABET) for _ in range(12))
        if not LiveCode.objects.filter(state=state).exists():
            return state[:STATE_MAX]


def _check(data: ChannelData) -> None:
    name = data.name.strip()
    if not name or len(name) > 100:
        raise ChannelInputError(_("give the channel a name of at most 100 characters"))
    if data.strategy not in Channel.Strategy.values:
        raise ChannelInputError(_("unknown assignment strategy"))
    if data.strategy == Channel.Strategy.STORE:
        if data.store_id is None or not Store.objects.filter(pk=data.store_id).exists():
            raise ChannelInputError(_("choose the store whose guides take the customers"))
    elif not data.guides:
        raise ChannelInputError(_("choose at least one guide"))
    if data.strategy == Channel.Strategy.SINGLE and len(data.guides) != 1:
        raise ChannelInputError(_("“one guide” takes exactly one guide"))
    wanted = {e.guide_id for e in data.guides} | (
        {data.backup_guide_id} if data.backup_guide_id else set()
    )
    known = set(Guide.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    if wanted - known:
        raise ChannelInputError(_("unknown guides: %(ids)s") % {"ids": sorted(wanted - known)})
    if len({e.guide_id for e in data.guides}) != len(data.guides):
        raise ChannelInputError(_("a guide is listed twice"))
    for entry in data.guides:
        if entry.daily_cap is not None and entry.daily_cap < 1:
            raise ChannelInputError(_("a daily cap is at least 1"))
        if not 1 <= entry.weight <= 100:
            raise ChannelInputError(_("weights are 1 to 100"))
    for weekday, start, end in data.hours:
        if not 1 <= weekday <= 7 or start >= end:
            raise ChannelInputError(
                _("working hours need a weekday 1-7 and a start before the end")
            )
    if data.hours and not data.backup_guide_id:
        raise ChannelInputError(_("working hours need an off-hours (backup) guide"))
    if data.starts_at and data.ends_at and data.starts_at >= data.ends_at:
        raise ChannelInputError(_("the channel's start is after its end"))
    if data.group_id and not ChannelGroup.objects.filter(pk=data.group_id).exists():
        raise ChannelInputError(_("unknown channel group"))
    try:
        tags_check(data.tag_ids)
    except TagInputError as exc:
        raise ChannelInputError(str(exc)) from exc
    if len(data.welcome_text.encode()) > WELCOME_TEXT_MAX_BYTES:
        raise ChannelInputError(
            _("the welcome text is over %(n)d bytes") % {"n": WELCOME_TEXT_MAX_BYTES}
        )
    if len(data.welcome_attachments) > WELCOME_ATTACHMENTS_MAX:
        raise ChannelInputError(
            _("at most %(n)d welcome attachments") % {"n": WELCOME_ATTACHMENTS_MAX}
        )


def _apply(channel: Channel, data: ChannelData) -> None:
    channel.name = data.name.strip()
    channel.strategy = data.strategy
    channel.group_id = data.group_id
    channel.is_active = data.is_active
    channel.starts_at, channel.ends_at = data.starts_at, data.ends_at
    channel.tag_ids = sorted(set(data.tag_ids))
    channel.welcome_text = data.welcome_text
    channel.welcome_attachments = data.welcome_attachments
    channel.store_id = data.store_id if data.strategy == Channel.Strategy.STORE else None
    channel.backup_guide_id = data.backup_guide_id
    channel.skip_verify = data.skip_verify
    channel.updated_at = timezone.now()
    channel.save()
    channel.guides.all().delete()
    ChannelGuide.objects.bulk_create(
        ChannelGuide(channel=channel, guide_id=e.guide_id, daily_cap=e.daily_cap, weight=e.weight)
        for e in data.guides
    )
    channel.hours.all().delete()
    ChannelHours.objects.bulk_create(
        ChannelHours(channel=channel, weekday=w, start=s, end=e) for w, s, e in data.hours
    )


def _plan(channel: Channel, now: datetime) -> list[str]:
    fresh = (
        Channel.objects.select_related("backup_guide")
        .prefetch_related("guides__guide", "hours")
        .get(pk=channel.pk)
    )
    plan = plan_members(
        fresh,
        now=now,
        adds=adds_today([fresh.pk], now=now),
        store_guides=_store_guides([fresh]).get(fresh.store_id or 0),
    )
    if not plan.userids:
        raise ChannelInputError(_("no active guide can take this channel's customers"))
    return plan.userids


def channel_create(*, data: ChannelData, actor: Any, client: WeComClient | None = None) -> Channel:
    """The channel and its live code; the contact way is created in WeCom inside the
    transaction, and deleted again if saving fails afterwards."""
    _check(data)
    now = timezone.now()
    client = client or _client()
    with transaction.atomic():
        channel = Channel(created_at=now)
        _apply(channel, data)
        members = _plan(channel, now)
        state = new_state()
        answer = client.post(
            "externalcontact/add_contact_way",
            data={
                "type": 2,
                "scene": 2,
                "state": state,
                "remark": channel.name[:30],
                "skip_verify": data.skip_verify,
                "user": members,
            },
        )
        try:
            LiveCode.objects.create(
                channel=channel,
                state=state,
                config_id=str(answer["config_id"]),
                qr_code=str(answer.get("qr_code") or ""),
                skip_verify=data.skip_verify,
                members=members,
                members_synced_at=now,
            )
            audit_record(action="channels.created", actor=actor, target=channel)
        except Exception:
            client.post("externalcontact/del_contact_way", data={"config_id": answer["config_id"]})
            raise
    return channel


def channel_update(
    *, channel: Channel, data: ChannelData, actor: Any, client: WeComClient | None = None
) -> Channel:
    """Save the channel, then push its way's members, remark and verification if changed
    (inside the transaction: a WeCom refusal saves nothing)."""
    _check(data)
    if channel.deleted_at is not None:
        raise ChannelInputError(_("this channel was deleted"))
    now = timezone.now()
    client = client or _client()
    with transaction.atomic():
        _apply(channel, data)
        members = _plan(channel, now)
        for code in channel.live_codes.select_for_update():
            body: dict[str, Any] = {}
            if set(code.members) != set(members):
                body["user"] = members
            if code.skip_verify != data.skip_verify:
                body["skip_verify"] = data.skip_verify
            body["remark"] = channel.name[:30]
            client.post(
                "externalcontact/update_contact_way", data={"config_id": code.config_id, **body}
            )
            code.members, code.members_synced_at = members, now
            code.skip_verify = data.skip_verify
            code.save(update_fields=["members", "members_synced_at", "skip_verify"])
        audit_record(action="channels.updated", actor=actor, target=channel)
    return channel


def channel_delete(*, channel: Channel, actor: Any, client: WeComClient | None = None) -> None:
    """Delete the WeCom contact ways (a printed code stops working); keep the channel's row
    for the customers it brought."""
    client = client or _client()
    with transaction.atomic():
        for code in channel.live_codes.select_for_update():
            if code.config_id:
                client.post("externalcontact/del_contact_way", data={"config_id": code.config_id})
            code.config_id = ""
            code.save(update_fields=["config_id"])
        channel.deleted_at = timezone.now()
        channel.is_active = False
        channel.save(update_fields=["deleted_at", "is_active"])
        audit_record(
            action="channels.deleted",
            actor=actor,
            target=channel,
            detail={"by": actor_label(actor)},
        )
