"""Customer group chats (客户群): refreshed from groupchat/get, by sync and by callbacks."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from contacts.models import Customer, GroupChat, GroupChatMember, Guide
from contacts.upserts import from_epoch
from privacy.erased import erased_among
from scrm.wecom.client import WeComClient, wecom_client
from scrm.wecom.errors import WeComError

CHAT_NOT_FOUND = {40050, 84061, 49008}  # chat id unknown / gone


@transaction.atomic
def group_chat_refresh(
    *, chat_id: str, client: WeComClient | None = None, wecom_status: int | None = None
) -> GroupChat | None:
    """Fetch one chat with its members from WeCom and store it as WeCom has it.

    A chat WeCom no longer knows is marked dismissed. Returns the chat row (None when it was
    never stored and WeCom does not know it).
    """
    client = client or wecom_client(app_kind="customer_contact")
    try:
        data = (
            client.post(
                "externalcontact/groupchat/get", data={"chat_id": chat_id, "need_name": 1}
            ).get("group_chat")
            or {}
        )
    except WeComError as exc:
        if exc.errcode in CHAT_NOT_FOUND:
            return group_chat_dismiss(chat_id=chat_id, at=timezone.now())
        raise
    now = timezone.now()
    owner_userid = str(data.get("owner") or "")
    members = data.get("member_list") or []
    admins = {str(a.get("userid")) for a in data.get("admin_list") or []}
    owner = Guide.objects.filter(userid=owner_userid).only("pk").first()
    chat, _ = GroupChat.objects.update_or_create(
        chat_id=chat_id,
        defaults={
            "name": str(data.get("name") or "")[:200],
            "owner": owner,
            "owner_userid": owner_userid[:64],
            "notice": str(data.get("notice") or ""),
            "member_count": len(members),
            "customer_count": sum(1 for m in members if int(m.get("type") or 0) == 2),
            "created_at": from_epoch(data.get("create_time"), default=now),
            "synced_at": now,
        },
    )
    status = GroupChat.WECOM_STATUS.get(wecom_status) if wecom_status is not None else None
    if chat.status == GroupChat.Status.DISMISSED:
        status = status or GroupChat.Status.NORMAL
    if status is not None and status != chat.status:
        chat.status, chat.dismissed_at = status, None
        chat.save(update_fields=["status", "dismissed_at"])
    _members_replace(chat, members, admins)
    return chat


def _members_replace(chat: GroupChat, members: list[dict[str, Any]], admins: set[str]) -> None:
    erased = erased_among(str(m.get("userid")) for m in members if int(m.get("type") or 1) == 2)
    members = [m for m in members if str(m.get("userid") or "") not in erased]
    userids = [str(m.get("userid") or "") for m in members if m.get("userid")]
    guides = dict(Guide.objects.filter(userid__in=userids).values_list("userid", "id"))
    customers = dict(
        Customer.objects.filter(external_userid__in=userids).values_list("external_userid", "id")
    )
    rows = []
    for member in members:
        userid = str(member.get("userid") or "")
        if not userid:
            continue
        kind = 2 if int(member.get("type") or 1) == 2 else 1
        rows.append(
            GroupChatMember(
                chat=chat,
                kind=kind,
                userid=userid[:64],
                guide_id=guides.get(userid) if kind == 1 else None,
                customer_id=customers.get(userid) if kind == 2 else None,
                name=str(member.get("name") or "")[:200],
                group_nickname=str(member.get("group_nickname") or "")[:200],
                unionid=str(member.get("unionid") or "")[:64],
                join_time=from_epoch(member.get("join_time"), default=timezone.now()),
                join_scene=int(member.get("join_scene") or 0),
                invitor_userid=str((member.get("invitor") or {}).get("userid") or "")[:64],
                is_admin=userid in admins,
            )
        )
    GroupChatMember.objects.filter(chat=chat).exclude(userid__in=userids).delete()
    GroupChatMember.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["chat", "userid"],
        update_fields=[
            "kind",
            "guide",
            "customer",
            "name",
            "group_nickname",
            "unionid",
            "join_time",
            "join_scene",
            "invitor_userid",
            "is_admin",
        ],
    )


@transaction.atomic
def group_chat_dismiss(*, chat_id: str, at: datetime) -> GroupChat | None:
    chat = GroupChat.objects.filter(chat_id=chat_id).first()
    if chat is None or chat.status == GroupChat.Status.DISMISSED:
        return chat
    chat.status, chat.dismissed_at, chat.synced_at = GroupChat.Status.DISMISSED, at, at
    chat.save(update_fields=["status", "dismissed_at", "synced_at"])
    return chat
