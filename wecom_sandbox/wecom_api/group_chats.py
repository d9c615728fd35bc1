"""Customer group chats (客户群): list and details."""

from typing import Any

from wecom_sandbox.errors import WeComError
from wecom_sandbox.rules import (
    GROUPCHAT_LIST_LIMIT_MAX,
    GROUPCHAT_OWNER_FILTER_MAX,
    GROUPCHAT_UNFILTERED_MAX_MEMBERS,
)
from wecom_sandbox.state import Corp
from wecom_sandbox.wecom_api.routing import ApiCall, api, decode_cursor, page


def chat_status(corp: Corp, owner: str, stored: int) -> int:
    """0 normal, 1 owner resigned awaiting inheritance, 3 inheritance done."""
    if stored:
        return stored
    member = corp.members.get(owner)
    return 1 if member is not None and not member.active else 0


@api("externalcontact/groupchat/list", customer_contact=True)
def groupchat_list(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    limit = call.integer("limit", 100) or 100
    if not 1 <= limit <= GROUPCHAT_LIST_LIMIT_MAX:
        raise WeComError(40058, f"limit must be in [1, {GROUPCHAT_LIST_LIMIT_MAX}]")
    status_filter = call.integer("status_filter", 0) or 0
    owner_filter = call.param("owner_filter") or {}
    owners = owner_filter.get("userid_list") if isinstance(owner_filter, dict) else None
    if owners:
        if len(owners) > GROUPCHAT_OWNER_FILTER_MAX:
            raise WeComError(40058, f"userid_list exceed max size {GROUPCHAT_OWNER_FILTER_MAX}")
    elif len(corp.members) > GROUPCHAT_UNFILTERED_MAX_MEMBERS:
        raise WeComError(81017)
    wanted_owners = set(owners or ())
    chats = []
    for chat in corp.group_chats.values():
        status = chat_status(corp, chat.owner, chat.status)
        if wanted_owners and chat.owner not in wanted_owners:
            continue
        if status_filter and status != status_filter:
            continue
        chats.append({"chat_id": chat.chat_id, "status": status})
    chunk, next_cursor = page(chats, decode_cursor(call.param("cursor")), limit)
    return {"group_chat_list": chunk, "next_cursor": next_cursor}


@api("externalcontact/groupchat/get", customer_contact=True)
def groupchat_get(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    chat_id = call.string("chat_id", required=True)
    chat = corp.group_chats.get(chat_id)
    if chat is None:
        raise WeComError(40050, f"chatid not found: {chat_id}")
    need_name = call.integer("need_name", 0) == 1
    members = []
    for item in chat.members:
        member = dict(item)
        if not need_name:
            member.pop("name", None)
        members.append(member)
    return {
        "group_chat": {
            "chat_id": chat.chat_id,
            "name": chat.name,
            "owner": chat.owner,
            "create_time": chat.create_time,
            "notice": chat.notice,
            "member_list": members,
            "admin_list": [{"userid": userid} for userid in chat.admins],
        }
    }
