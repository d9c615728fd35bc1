"""message/send: app messages to members, recorded per member for inspection."""

from typing import Any

from wecom_sandbox import identifiers
from wecom_sandbox.errors import WeComError
from wecom_sandbox.message_content import check_media
from wecom_sandbox.wecom_api.routing import ApiCall, api

MSGTYPES = {"text", "textcard", "markdown", "image", "file", "video", "news", "template_card"}
MEDIA_MSGTYPES = {"image", "file", "video"}


@api("message/send", customer_contact=True)
def message_send(call: ApiCall) -> dict[str, Any]:
    corp, app = call.corp, call.app
    assert app is not None
    agentid = call.integer("agentid")
    if agentid is None or agentid != app.agent_id:
        raise WeComError(40056, f"invalid agentid: {agentid}")
    msgtype = call.string("msgtype", required=True)
    if msgtype not in MSGTYPES:
        raise WeComError(40008, f"invalid message type: {msgtype}")
    content = call.param(msgtype)
    if not isinstance(content, dict):
        raise WeComError(40058, f"{msgtype} is required")
    if msgtype in ("text", "markdown") and not content.get("content"):
        raise WeComError(44004)
    if msgtype in MEDIA_MSGTYPES:
        check_media(corp, content.get("media_id"), call.now)
    touser = call.string("touser")
    toparty = call.string("toparty")
    if touser == "@all":
        recipients = [m.userid for m in corp.active_members()]
        invalid_users: list[str] = []
    else:
        recipients, invalid_users = [], []
        for userid in filter(None, touser.split("|")):
            member = corp.members.get(userid)
            (recipients if member is not None and member.active else invalid_users).append(userid)
    invalid_parties = []
    for party in filter(None, toparty.split("|")):
        department_id = int(party) if party.isdigit() else -1
        if department_id not in corp.departments:
            invalid_parties.append(party)
            continue
        wanted = set(corp.descendant_departments(department_id))
        recipients.extend(
            m.userid for m in corp.active_members() if wanted.intersection(m.department)
        )
    recipients = list(dict.fromkeys(recipients))
    if not recipients:
        raise WeComError(81013)
    msgid = identifiers.app_msgid()
    for userid in recipients:
        corp.member_messages.setdefault(userid, []).append(
            {
                "kind": "app_message",
                "at": call.now,
                "msgid": msgid,
                "agentid": agentid,
                "msgtype": msgtype,
                "content": content,
            }
        )
    return {
        "invaliduser": "|".join(invalid_users),
        "invalidparty": "|".join(invalid_parties),
        "invalidtag": call.string("totag"),
        "unlicenseduser": "",
        "msgid": msgid,
        "response_code": "",
    }
