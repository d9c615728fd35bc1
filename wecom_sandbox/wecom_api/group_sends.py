"""企业群发: templates are created by the API and sent only when the member confirms in the
client (simulated by the control API), which is also where the per-customer monthly cap
applies."""

from collections import defaultdict
from typing import Any

from wecom_sandbox import identifiers
from wecom_sandbox.corp_tags import check_tag_ids
from wecom_sandbox.errors import WeComError
from wecom_sandbox.message_content import check_message
from wecom_sandbox.records import Follow, MsgTemplate
from wecom_sandbox.rules import (
    GROUPMSG_LIST_MAX_RANGE_SECONDS,
    REMINDS_PER_24H,
    TAG_FILTER_MAX_PER_GROUP,
    TEMPLATE_MAX_CHATS,
    TEMPLATE_MAX_EXTERNAL_USERIDS,
)
from wecom_sandbox.state import Corp
from wecom_sandbox.wecom_api.routing import ApiCall, api, decode_cursor, page

TASK_LIMIT_MAX = 1000
TASK_LIMIT_DEFAULT = 500
LIST_LIMIT_MAX = 100
LIST_LIMIT_DEFAULT = 50


def _tag_filter(corp: Corp, value: Any) -> list[set[str]]:
    """OR within a group, AND across groups."""
    if not value:
        return []
    groups = value.get("group_list") if isinstance(value, dict) else None
    if not isinstance(groups, list):
        raise WeComError(40058, "tag_filter.group_list must be a list")
    parsed = []
    for group in groups:
        tags = check_tag_ids(corp, group.get("tag_list") if isinstance(group, dict) else None)
        if len(tags) > TAG_FILTER_MAX_PER_GROUP:
            raise WeComError(40058, f"tag_list exceed max size {TAG_FILTER_MAX_PER_GROUP}")
        if tags:
            parsed.append(set(tags))
    return parsed


def _matches(follow: Follow | None, tag_filter: list[set[str]]) -> bool:
    if not tag_filter:
        return True
    if follow is None:
        return False
    return all(group.intersection(follow.tag_ids) for group in tag_filter)


def _single_targets(
    call: ApiCall, sender: str, tag_filter: list[set[str]]
) -> tuple[dict[str, list[str]], list[str]]:
    corp = call.corp
    external_userids = call.string_list("external_userid")
    if len(external_userids) > TEMPLATE_MAX_EXTERNAL_USERIDS:
        raise WeComError(
            40058, f"field external_userid exceed max size {TEMPLATE_MAX_EXTERNAL_USERIDS}"
        )
    if not external_userids and not sender:
        raise WeComError(40058, "sender or external_userid is required")
    targets: dict[str, list[str]] = defaultdict(list)
    fail_list: list[str] = []
    sender_member = corp.member(sender) if sender else None
    if not external_userids and sender_member is not None:
        for external_userid, follow in sender_member.follows.items():
            if _matches(follow, tag_filter):
                targets[sender].append(external_userid)
        return targets, fail_list
    for external_userid in dict.fromkeys(external_userids):
        customer = corp.customers.get(external_userid)
        if customer is None:
            fail_list.append(external_userid)
            continue
        if sender_member is not None:
            # Kept even when not a friend: the send result then says status 2.
            if _matches(sender_member.follows.get(external_userid), tag_filter):
                targets[sender].append(external_userid)
            continue
        # Without a sender the message goes through the member who last interacted.
        latest = corp.last_follow(customer)
        if latest is None:
            fail_list.append(external_userid)
        elif _matches(latest, tag_filter):
            targets[latest.userid].append(external_userid)
    return targets, fail_list


def _group_targets(call: ApiCall, sender: str) -> tuple[dict[str, list[str]], list[str]]:
    corp = call.corp
    if not sender:
        raise WeComError(40058, "sender is required for chat_type group")
    chat_ids = call.string_list("chat_id_list")
    if len(chat_ids) > TEMPLATE_MAX_CHATS:
        raise WeComError(40058, f"field chat_id_list exceed max size {TEMPLATE_MAX_CHATS}")
    fail_list: list[str] = []
    if chat_ids:
        mine = []
        for chat_id in dict.fromkeys(chat_ids):
            chat = corp.group_chats.get(chat_id)
            if chat is None or chat.owner != sender:
                fail_list.append(chat_id)
            else:
                mine.append(chat_id)
    else:
        mine = [c.chat_id for c in corp.group_chats.values() if c.owner == sender]
    return ({sender: mine} if mine else {}), fail_list


@api("externalcontact/add_msg_template", customer_contact=True)
def add_msg_template(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    chat_type = call.string("chat_type") or "single"
    if chat_type not in ("single", "group"):
        raise WeComError(40058, f"invalid chat_type: {chat_type}")
    sender = call.string("sender")
    if sender:
        corp.member(sender)
    content, attachments = check_message(
        corp, call.param("text"), call.param("attachments"), call.now
    )
    if chat_type == "single":
        targets, fail_list = _single_targets(
            call, sender, _tag_filter(corp, call.param("tag_filter"))
        )
    else:
        targets, fail_list = _group_targets(call, sender)
    if not any(targets.values()):
        raise WeComError(41048)
    template = MsgTemplate(
        identifiers.msgid(),
        chat_type,
        sender,
        call.now,
        {"content": content} if content else None,
        attachments,
        bool(call.param("allow_select", False)),
    )
    for userid, chosen in targets.items():
        if chosen:
            template.tasks[userid] = [0, 0]
            template.results[userid] = {target: [0, 0] for target in chosen}
    corp.templates[template.msgid] = template
    return {"fail_list": fail_list, "msgid": template.msgid}


def _template(call: ApiCall) -> MsgTemplate:
    msgid = call.string("msgid", required=True, errcode=41046)
    template = call.corp.templates.get(msgid)
    if template is None:
        raise WeComError(41047, f"invalid msgid: {msgid}")
    return template


def _limit(call: ApiCall, default: int, maximum: int) -> int:
    limit = call.integer("limit", default) or default
    return max(1, min(limit, maximum))


@api("externalcontact/get_groupmsg_list_v2", customer_contact=True)
def get_groupmsg_list_v2(call: ApiCall) -> dict[str, Any]:
    chat_type = call.string("chat_type") or "single"
    start_time = call.integer("start_time")
    end_time = call.integer("end_time")
    if start_time is None or end_time is None:
        raise WeComError(40058, "start_time and end_time are required")
    if end_time < start_time or end_time - start_time > GROUPMSG_LIST_MAX_RANGE_SECONDS:
        raise WeComError(40058, "start_time and end_time span more than one month")
    creator = call.string("creator")
    filter_type = call.integer("filter_type", 2)
    templates = [
        t
        for t in call.corp.templates.values()
        if t.chat_type == chat_type
        and start_time <= t.create_time <= end_time
        and (not creator or t.creator == creator)
        # Every sandbox template was created through the API (create_type 0, "corp").
        and filter_type in (0, 2)
    ]
    chunk, next_cursor = page(
        templates,
        decode_cursor(call.param("cursor")),
        _limit(call, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX),
    )
    items = []
    for t in chunk:
        item: dict[str, Any] = {
            "msgid": t.msgid,
            "creator": t.creator,
            "create_time": t.create_time,
            "create_type": 0,
        }
        if t.text:
            item["text"] = t.text
        item["attachments"] = t.attachments
        items.append(item)
    return {"group_msg_list": items, "next_cursor": next_cursor}


@api("externalcontact/get_groupmsg_task", customer_contact=True)
def get_groupmsg_task(call: ApiCall) -> dict[str, Any]:
    template = _template(call)
    tasks = list(template.tasks.items())
    chunk, next_cursor = page(
        tasks, decode_cursor(call.param("cursor")), _limit(call, TASK_LIMIT_DEFAULT, TASK_LIMIT_MAX)
    )
    task_list = []
    for userid, (status, send_time) in chunk:
        item: dict[str, Any] = {"userid": userid, "status": status}
        if send_time:
            item["send_time"] = send_time
        task_list.append(item)
    return {"task_list": task_list, "next_cursor": next_cursor}


@api("externalcontact/get_groupmsg_send_result", customer_contact=True)
def get_groupmsg_send_result(call: ApiCall) -> dict[str, Any]:
    template = _template(call)
    userid = call.string("userid", required=True, errcode=41009)
    results = list(template.results.get(userid, {}).items())
    chunk, next_cursor = page(
        results,
        decode_cursor(call.param("cursor")),
        _limit(call, TASK_LIMIT_DEFAULT, TASK_LIMIT_MAX),
    )
    target_field = "external_userid" if template.chat_type == "single" else "chat_id"
    send_list = []
    for target, (status, send_time) in chunk:
        item: dict[str, Any] = {target_field: target, "userid": userid, "status": status}
        if send_time:
            item["send_time"] = send_time
        send_list.append(item)
    return {"send_list": send_list, "next_cursor": next_cursor}


@api("externalcontact/cancel_groupmsg_send", customer_contact=True)
def cancel_groupmsg_send(call: ApiCall) -> dict[str, Any]:
    _template(call).cancelled = True
    return {}


@api("externalcontact/remind_groupmsg_send", customer_contact=True)
def remind_groupmsg_send(call: ApiCall) -> dict[str, Any]:
    template = _template(call)
    recent = [at for at in template.reminders if call.now - at < 24 * 3600]
    if len(recent) >= REMINDS_PER_24H:
        # UNCONFIRMED errcode for a 4th reminder within 24 h.
        raise WeComError(45009, f"at most {REMINDS_PER_24H} reminders per 24 hours")
    template.reminders = [*recent, call.now]
    for userid, (status, _) in template.tasks.items():
        if status == 0:
            call.corp.member_messages.setdefault(userid, []).append(
                {"kind": "groupmsg_remind", "at": call.now, "msgid": template.msgid}
            )
    return {}


@api("externalcontact/get_group_msg_result", customer_contact=True)
def get_group_msg_result(call: ApiCall) -> dict[str, Any]:
    """The legacy result API (what wechatpy 1.8.18's get_group_msg_result calls)."""
    template = _template(call)
    confirmed = any(status == 2 for status, _ in template.tasks.values())
    detail = []
    for userid, results in template.results.items():
        for target, (status, send_time) in results.items():
            target_field = "external_userid" if template.chat_type == "single" else "chat_id"
            detail.append(
                {target_field: target, "userid": userid, "status": status, "send_time": send_time}
            )
    # check_status: 0 not yet sent, 1 sent, 2 cancelled (legacy doc).
    check_status = 2 if template.cancelled else int(confirmed)
    return {"check_status": check_status, "detail_list": detail}
