"""在职继承 / 离职继承: customer transfers, their results, unassigned customers, and group
chat owner transfers."""

from typing import Any

from wecom_sandbox.errors import WeComError
from wecom_sandbox.records import Member, Transfer
from wecom_sandbox.rules import (
    GROUPCHAT_ONJOB_TRANSFERS_PER_90_DAYS,
    GROUPCHAT_TRANSFER_MAX,
    NINETY_DAYS_SECONDS,
    ONJOB_TRANSFERS_PER_90_DAYS,
    TRANSFER_DELAY_SECONDS,
    TRANSFER_MAX_CUSTOMERS,
    TRANSFER_RESULT_PAGE,
    TRANSFER_SUCCESS_MSG_MAX_CHARS,
    UNASSIGNED_PAGE_MAX,
)
from wecom_sandbox.wecom_api.routing import ApiCall, api, decode_cursor, encode_cursor, page

ONJOB = "onjob"
RESIGNED = "resigned"


def _takeover(call: ApiCall, handover_userid: str) -> Member:
    takeover = call.corp.member(call.string("takeover_userid", required=True, errcode=41009))
    if takeover.userid == handover_userid:
        raise WeComError(40130)
    if not takeover.customer_contact:
        raise WeComError(84074, f"takeover_userid has no customer contact: {takeover.userid}")
    return takeover


def _external_userids(call: ApiCall) -> list[str]:
    external_userids = call.string_list("external_userid")
    if not external_userids:
        raise WeComError(41035)
    if len(external_userids) > TRANSFER_MAX_CUSTOMERS:
        raise WeComError(40058, f"field external_userid exceed max size {TRANSFER_MAX_CUSTOMERS}")
    return external_userids


def _start(call: ApiCall, kind: str, handover: Member, takeover: Member) -> dict[str, Any]:
    success_msg = call.string("transfer_success_msg") if kind == ONJOB else ""
    if len(success_msg) > TRANSFER_SUCCESS_MSG_MAX_CHARS:
        raise WeComError(
            40058, f"transfer_success_msg exceed max length {TRANSFER_SUCCESS_MSG_MAX_CHARS}"
        )
    results = []
    for external_userid in _external_userids(call):
        results.append(
            {
                "external_userid": external_userid,
                "errcode": _start_one(call, kind, external_userid, handover, takeover, success_msg),
            }
        )
    return {"customer": results}


def _start_one(
    call: ApiCall,
    kind: str,
    external_userid: str,
    handover: Member,
    takeover: Member,
    success_msg: str,
) -> int:
    corp = call.corp
    if external_userid not in corp.customers:
        return 40096
    if external_userid not in handover.follows:
        return 84061
    if external_userid in corp.pending_transfers:
        return 40129
    if kind == ONJOB:
        history = corp.onjob_transfer_history.get(external_userid, [])
        recent = [at for at in history if call.now - at < NINETY_DAYS_SECONDS]
        if len(recent) >= ONJOB_TRANSFERS_PER_90_DAYS:
            return 40128
        corp.onjob_transfer_history[external_userid] = [*recent, call.now]
    corp.add_transfer(
        Transfer(
            kind,
            external_userid,
            handover.userid,
            takeover.userid,
            call.now,
            call.now + TRANSFER_DELAY_SECONDS,
            success_msg,
        )
    )
    return 0


@api("externalcontact/transfer_customer", customer_contact=True)
def transfer_customer(call: ApiCall) -> dict[str, Any]:
    handover = call.corp.member(call.string("handover_userid", required=True, errcode=41009))
    return _start(call, ONJOB, handover, _takeover(call, handover.userid))


@api("externalcontact/resigned/transfer_customer", customer_contact=True)
def resigned_transfer_customer(call: ApiCall) -> dict[str, Any]:
    userid = call.string("handover_userid", required=True, errcode=41009)
    handover = call.corp.members.get(userid)
    if handover is None:
        raise WeComError(60111, f"userid not found: {userid}")
    if handover.active:
        raise WeComError(40097)
    return _start(call, RESIGNED, handover, _takeover(call, handover.userid))


def _result(call: ApiCall, kind: str) -> dict[str, Any]:
    handover = call.string("handover_userid", required=True, errcode=41009)
    takeover = call.string("takeover_userid", required=True, errcode=41009)
    transfers = call.corp.transfer_index.get((kind, handover, takeover), [])
    chunk, next_cursor = page(transfers, decode_cursor(call.param("cursor")), TRANSFER_RESULT_PAGE)
    return {
        "customer": [
            {
                "external_userid": t.external_userid,
                "status": t.status,
                "takeover_time": t.takeover_time,
            }
            for t in chunk
        ],
        "next_cursor": next_cursor,
    }


@api("externalcontact/transfer_result", customer_contact=True)
def transfer_result(call: ApiCall) -> dict[str, Any]:
    return _result(call, ONJOB)


@api("externalcontact/resigned/transfer_result", customer_contact=True)
def resigned_transfer_result(call: ApiCall) -> dict[str, Any]:
    return _result(call, RESIGNED)


@api("externalcontact/get_unassigned_list", customer_contact=True)
def get_unassigned_list(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    page_size = call.integer("page_size", UNASSIGNED_PAGE_MAX) or UNASSIGNED_PAGE_MAX
    if not 1 <= page_size <= UNASSIGNED_PAGE_MAX:
        raise WeComError(40058, f"page_size must be in [1, {UNASSIGNED_PAGE_MAX}]")
    cursor = call.param("cursor")
    # Older clients (wechatpy 1.8.18) page with page_id; newer ones with cursor.
    page_id = call.integer("page_id", 0) or 0
    offset = decode_cursor(cursor) if cursor else page_id * page_size
    rows = []
    for member in corp.members.values():
        if member.active:
            continue
        for external_userid in member.follows:
            pending = corp.pending_transfers.get(external_userid)
            if pending is not None and pending.handover == member.userid:
                continue
            rows.append((member, external_userid))
    chunk = rows[offset : offset + page_size]
    end = offset + len(chunk)
    is_last = end >= len(rows)
    return {
        "info": [
            {
                "handover_userid": member.userid,
                "external_userid": external_userid,
                "dimission_time": member.dimission_time,
            }
            for member, external_userid in chunk
        ],
        "is_last": is_last,
        "next_cursor": "" if is_last else encode_cursor(end),
    }


def _chat_ids(call: ApiCall) -> list[str]:
    chat_ids = call.string_list("chat_id_list")
    if not 1 <= len(chat_ids) <= GROUPCHAT_TRANSFER_MAX:
        raise WeComError(40058, f"chat_id_list size must be in [1, {GROUPCHAT_TRANSFER_MAX}]")
    return chat_ids


def _transfer_chats(call: ApiCall, *, resigned: bool) -> dict[str, Any]:
    corp = call.corp
    chat_ids = _chat_ids(call)
    new_owner = corp.member(call.string("new_owner", required=True, errcode=41009))
    failed = []
    for chat_id in chat_ids:
        errcode = _transfer_chat(call, chat_id, new_owner.userid, resigned=resigned)
        if errcode:
            failed.append(
                {"chat_id": chat_id, "errcode": errcode, "errmsg": WeComError(errcode).text()}
            )
    return {"failed_chat_list": failed}


def _transfer_chat(call: ApiCall, chat_id: str, new_owner: str, *, resigned: bool) -> int:
    corp = call.corp
    chat = corp.group_chats.get(chat_id)
    if chat is None:
        return 40050
    owner = corp.members.get(chat.owner)
    owner_active = owner is not None and owner.active
    if chat.owner == new_owner:
        return 90504
    if resigned and owner_active:
        return 90500
    if not resigned and not owner_active:
        return 90502
    if not resigned:
        recent = [at for at in chat.transfer_times if call.now - at < NINETY_DAYS_SECONDS]
        if len(recent) >= GROUPCHAT_ONJOB_TRANSFERS_PER_90_DAYS:
            # UNCONFIRMED errcode for the group chat's 2-per-90-days rule.
            return 40128
        chat.transfer_times = [*recent, call.now]
    chat.owner = new_owner
    if resigned:
        chat.status = 3  # 离职继承完成
    if not any(m.get("userid") == new_owner for m in chat.members):
        chat.members.append(
            {"userid": new_owner, "type": 1, "join_time": call.now, "join_scene": 1}
        )
    return 0


@api("externalcontact/groupchat/transfer", customer_contact=True)
def groupchat_transfer(call: ApiCall) -> dict[str, Any]:
    return _transfer_chats(call, resigned=True)


@api("externalcontact/groupchat/onjob_transfer", customer_contact=True)
def groupchat_onjob_transfer(call: ApiCall) -> dict[str, Any]:
    return _transfer_chats(call, resigned=False)
