"""What people do in the WeCom client and admin console, with the callbacks WeCom sends.

Each function is called by the control API with the state lock held. Lookups that fail
raise LookupError (HTTP 404 on the control API); invalid requests raise ValueError (400).
Actions taken through WeCom's API send no callbacks (OFF 96361); these actions do.
"""

import random
from typing import TYPE_CHECKING, Any

from wecom_sandbox import corp_tags, identifiers
from wecom_sandbox.clock import days_in_month, month_key
from wecom_sandbox.records import (
    TRANSFER_DONE,
    TRANSFER_LIMIT,
    TRANSFER_REFUSED,
    TRANSFER_WAITING,
    Customer,
    Department,
    Follow,
    GroupChat,
    Member,
    Receipt,
    Transfer,
    WelcomeCode,
)
from wecom_sandbox.state import Corp

if TYPE_CHECKING:
    from wecom_sandbox.sandbox import Sandbox

ADD_WAY_QR_CODE = 1
ADD_WAY_ASSIGNED = 202
WELCOME_CODES_KEPT = 20_000
_random = random.Random()  # noqa: S311 - picking a member, not security


def _member(corp: Corp, userid: str) -> Member:
    member = corp.members.get(userid)
    if member is None:
        raise LookupError(f"no member {userid!r}")
    return member


def _customer(corp: Corp, external_userid: str) -> Customer:
    customer = corp.customers.get(external_userid)
    if customer is None:
        raise LookupError(f"no customer {external_userid!r}")
    return customer


def _follow(corp: Corp, userid: str, external_userid: str) -> Follow:
    _member(corp, userid)
    _customer(corp, external_userid)
    follow = corp.find_follow(external_userid, userid)
    if follow is None:
        raise LookupError(f"{userid!r} and {external_userid!r} are not friends")
    return follow


# --- contact book (admin console) -------------------------------------------------------


def add_department(
    corp: Corp, *, id: int | None, name: str, parentid: int, order: int
) -> Department:
    if parentid not in corp.departments:
        raise ValueError(f"no parent department {parentid}")
    department_id = id if id is not None else max(corp.departments) + 1
    if department_id in corp.departments:
        raise ValueError(f"department {department_id} exists")
    department = Department(department_id, name, parentid, order)
    corp.departments[department_id] = department
    return department


def add_member(
    sb: "Sandbox",
    corp: Corp,
    *,
    userid: str,
    name: str,
    department: list[int],
    position: str = "",
    gender: int = 0,
    customer_contact: bool = True,
    notify: bool = True,
) -> Member:
    """An admin adds a member; `change_contact/create_user` goes to the contacts-sync app."""
    if not userid:
        raise ValueError("userid is required")
    if userid in corp.members:
        raise ValueError(f"member {userid!r} exists")
    departments = tuple(department or [1])
    for department_id in departments:
        if department_id not in corp.departments:
            raise ValueError(f"no department {department_id}")
    member = Member(
        userid,
        name or userid,
        departments,
        position=position,
        gender=gender,
        customer_contact=customer_contact,
        created_at=sb.now(),
    )
    corp.members[userid] = member
    if notify:
        sb.emit_directory_event(
            corp,
            {
                "ChangeType": "create_user",
                "UserID": userid,
                "Name": member.name,
                "Department": ",".join(str(d) for d in departments),
                "MainDepartment": departments[0],
                "Position": position,
                "Gender": gender,
                "Status": 1,
            },
        )
    return member


def rename_member(sb: "Sandbox", corp: Corp, *, userid: str, new_userid: str) -> dict[str, Any]:
    """WeCom lets an admin change a userid once; everything keyed by it follows along and
    `change_contact/update_user` carries UserID (old) and NewUserID."""
    member = _member(corp, userid)
    if not new_userid or new_userid in corp.members:
        raise ValueError(f"new_userid {new_userid!r} is empty or taken")
    member.userid = new_userid
    corp.members = {(new_userid if k == userid else k): v for k, v in corp.members.items()}
    for follow in member.follows.values():
        follow.userid = new_userid
        if follow.oper_userid == userid:
            follow.oper_userid = new_userid
    for way in corp.contact_ways.values():
        if userid in way.user:
            way.user = tuple(new_userid if u == userid else u for u in way.user)
    for code in corp.welcome_codes.values():
        if code.userid == userid:
            code.userid = new_userid
    for chat in corp.group_chats.values():
        if chat.owner == userid:
            chat.owner = new_userid
        chat.admins = [new_userid if a == userid else a for a in chat.admins]
        for item in chat.members:
            if item.get("userid") == userid:
                item["userid"] = new_userid
    for template in corp.templates.values():
        if template.creator == userid:
            template.creator = new_userid
        if userid in template.tasks:
            template.tasks[new_userid] = template.tasks.pop(userid)
            template.results[new_userid] = template.results.pop(userid, {})
    for transfer in corp.transfers:
        if transfer.handover == userid:
            transfer.handover = new_userid
        if transfer.takeover == userid:
            transfer.takeover = new_userid
    corp.reindex_transfers()
    if userid in corp.member_messages:
        corp.member_messages[new_userid] = corp.member_messages.pop(userid)
    delivery = sb.emit_directory_event(
        corp, {"ChangeType": "update_user", "UserID": userid, "NewUserID": new_userid}
    )
    return {"userid": new_userid, "delivery_id": delivery}


def member_leaves(sb: "Sandbox", corp: Corp, *, userid: str) -> dict[str, Any]:
    """The member quits (status 5): `change_contact/delete_user`; their customers show up
    in get_unassigned_list until transferred."""
    member = _member(corp, userid)
    if not member.active:
        raise ValueError(f"member {userid!r} already left")
    member.status = 5
    member.dimission_time = sb.now()
    delivery = sb.emit_directory_event(corp, {"ChangeType": "delete_user", "UserID": userid})
    return {"userid": userid, "customers": len(member.follows), "delivery_id": delivery}


def update_member(
    sb: "Sandbox",
    corp: Corp,
    *,
    userid: str,
    name: str | None = None,
    department: list[int] | None = None,
    position: str | None = None,
) -> dict[str, Any]:
    """An admin edits a member: `change_contact/update_user` with the changed fields."""
    member = _member(corp, userid)
    fields: dict[str, Any] = {"ChangeType": "update_user", "UserID": userid}
    if name is not None:
        member.name = name
        fields["Name"] = name
    if department is not None:
        for department_id in department:
            if department_id not in corp.departments:
                raise ValueError(f"no department {department_id}")
        member.department = tuple(department)
        fields["Department"] = ",".join(str(d) for d in department)
        fields["MainDepartment"] = department[0]
    if position is not None:
        member.position = position
        fields["Position"] = position
    delivery = sb.emit_directory_event(corp, fields)
    return {"userid": userid, "delivery_id": delivery}


# --- customers --------------------------------------------------------------------------


def _issue_welcome_code(corp: Corp, external_userid: str, userid: str, now: int) -> str:
    if len(corp.welcome_codes) >= WELCOME_CODES_KEPT:
        # Codes live 20 s; forgetting the oldest half only turns "expired" into "unknown",
        # which answers the same errcode.
        for stale in list(corp.welcome_codes)[: WELCOME_CODES_KEPT // 2]:
            del corp.welcome_codes[stale]
    code = WelcomeCode(identifiers.welcome_code(), external_userid, userid, now)
    corp.welcome_codes[code.code] = code
    return code.code


def scan(
    sb: "Sandbox",
    corp: Corp,
    *,
    config_id: str,
    external_userid: str | None = None,
    name: str | None = None,
    userid: str | None = None,
    gender: int = 0,
    unionid: str | None = None,
    avatar: str | None = None,
    welcome_code: bool = True,
) -> dict[str, Any]:
    """A customer scans a contact way and becomes a friend of one of its members.

    The member is picked at random among the way's active members (users, then members of
    its departments) unless `userid` names one. The follow gets add_way 1 and the way's
    state; `add_external_contact` carries State and a WelcomeCode (unless `welcome_code`
    is false, as when the member has a console welcome message).
    """
    way = corp.contact_ways.get(config_id)
    if way is None:
        raise LookupError(f"no contact way {config_id!r}")
    if way.is_temp and way.options.get("_used"):
        raise ValueError("this temporary contact way was already used")
    candidates = [u for u in way.user if u in corp.members and corp.members[u].active]
    if way.party:
        wanted: set[int] = set()
        for department_id in way.party:
            wanted.update(corp.descendant_departments(department_id))
        candidates += [
            m.userid
            for m in corp.active_members()
            if m.customer_contact and wanted.intersection(m.department)
        ]
    candidates = list(dict.fromkeys(candidates))
    if userid is not None and userid not in candidates:
        raise ValueError(f"{userid!r} is not an active member of contact way {config_id}")
    if not candidates:
        raise ValueError(f"contact way {config_id} has no active member")
    now = sb.now()
    external_userid = external_userid or identifiers.external_userid()
    customer = corp.customers.get(external_userid)
    created = customer is None
    if customer is None:
        customer = Customer(
            external_userid,
            name or f"客户{external_userid[-6:]}",
            avatar,
            1,
            gender,
            unionid,
        )
        corp.add_customer(customer)
    chosen = userid
    if chosen is None and way.options.get("is_exclusive"):
        chosen = next((f.userid for f in customer.follows if f.userid in candidates), None)
    if chosen is None:
        chosen = _random.choice(candidates)
    result: dict[str, Any] = {
        "external_userid": external_userid,
        "userid": chosen,
        "state": way.state,
        "new_customer": created,
    }
    if corp.find_follow(external_userid, chosen) is not None:
        return {**result, "already_friend": True, "welcome_code": None, "delivery_id": None}
    corp.add_follow(
        Follow(
            external_userid,
            chosen,
            now,
            add_way=ADD_WAY_QR_CODE,
            state=way.state,
            oper_userid=external_userid,
        )
    )
    if way.is_temp:
        way.options["_used"] = True
    code = _issue_welcome_code(corp, external_userid, chosen, now) if welcome_code else None
    fields: dict[str, Any] = {
        "ChangeType": "add_external_contact",
        "UserID": chosen,
        "ExternalUserID": external_userid,
    }
    if way.state:
        fields["State"] = way.state
    if code:
        fields["WelcomeCode"] = code
    delivery = sb.emit_contact_event(corp, fields)
    return {**result, "already_friend": False, "welcome_code": code, "delivery_id": delivery}


def half_add(
    sb: "Sandbox",
    corp: Corp,
    *,
    userid: str,
    external_userid: str | None = None,
    name: str | None = None,
    state: str = "",
) -> dict[str, Any]:
    """A customer adds a member who turned on 免验证 before the member accepts:
    `add_half_external_contact` with a WelcomeCode. The follow exists on WeCom's side."""
    member = _member(corp, userid)
    now = sb.now()
    external_userid = external_userid or identifiers.external_userid()
    customer = corp.customers.get(external_userid)
    if customer is None:
        customer = Customer(
            external_userid, name or f"客户{external_userid[-6:]}", None, 1, 0, None
        )
        corp.add_customer(customer)
    if corp.find_follow(external_userid, member.userid) is not None:
        raise ValueError(f"{external_userid} already follows {userid}")
    corp.add_follow(
        Follow(
            external_userid,
            member.userid,
            now,
            add_way=ADD_WAY_QR_CODE if state else 0,
            state=state,
            oper_userid=external_userid,
        )
    )
    code = _issue_welcome_code(corp, external_userid, member.userid, now)
    fields: dict[str, Any] = {
        "ChangeType": "add_half_external_contact",
        "UserID": member.userid,
        "ExternalUserID": external_userid,
        "WelcomeCode": code,
    }
    if state:
        fields["State"] = state
    delivery = sb.emit_contact_event(corp, fields)
    return {"external_userid": external_userid, "welcome_code": code, "delivery_id": delivery}


def customer_deletes_member(
    sb: "Sandbox", corp: Corp, *, external_userid: str, userid: str
) -> dict[str, Any]:
    """The customer deletes the member: `del_follow_user`."""
    corp.remove_follow(_follow(corp, userid, external_userid))
    delivery = sb.emit_contact_event(
        corp,
        {"ChangeType": "del_follow_user", "UserID": userid, "ExternalUserID": external_userid},
    )
    return {"delivery_id": delivery}


def member_deletes_customer(
    sb: "Sandbox", corp: Corp, *, userid: str, external_userid: str
) -> dict[str, Any]:
    """The member deletes the customer: `del_external_contact`."""
    corp.remove_follow(_follow(corp, userid, external_userid))
    delivery = sb.emit_contact_event(
        corp,
        {
            "ChangeType": "del_external_contact",
            "UserID": userid,
            "ExternalUserID": external_userid,
        },
    )
    return {"delivery_id": delivery}


def edit_relation(
    sb: "Sandbox",
    corp: Corp,
    *,
    userid: str,
    external_userid: str,
    add_tag: list[str],
    remove_tag: list[str],
    remark: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The member edits tags / remark in the client: `edit_external_contact`."""
    follow = _follow(corp, userid, external_userid)
    for tag_id in add_tag:
        if tag_id not in corp.tags:
            raise ValueError(f"no corp tag {tag_id!r}")
    follow.tag_ids = corp_tags.apply_tag_changes(corp, follow.tag_ids, add_tag, remove_tag)
    if remark is not None:
        follow.remark = remark
    if description is not None:
        follow.description = description
    delivery = sb.emit_contact_event(
        corp,
        {
            "ChangeType": "edit_external_contact",
            "UserID": userid,
            "ExternalUserID": external_userid,
        },
    )
    return {"tag_ids": list(follow.tag_ids), "delivery_id": delivery}


# --- corp tags in the admin console -----------------------------------------------------


def console_tags(sb: "Sandbox", corp: Corp, body: dict[str, Any]) -> dict[str, Any]:
    """Tag edits made in the admin console: `change_external_tag` events.

    body: {"op": "create", "group_name" | "group_id", "tags": ["a", "b"]}
          {"op": "update", "id", "name"?, "order"?}
          {"op": "delete", "tag_id": [...], "group_id": [...]}
          {"op": "shuffle", "group_id", "tag_ids": [...]}  (the group's tags, first first)
    """
    op = body.get("op")
    events: list[dict[str, Any]] = []
    if op == "create":
        group_existed = body.get("group_id") in corp.tag_groups or any(
            g.name == body.get("group_name") for g in corp.tag_groups.values()
        )
        group, tags = corp_tags.add_tags(
            corp,
            group_id=body.get("group_id"),
            group_name=body.get("group_name"),
            order=body.get("order"),
            tags=[{"name": name} for name in body.get("tags") or []],
            now=sb.now(),
            limit=sb.quotas.corp_tag_limit,
        )
        if not group_existed:
            events.append({"Id": group.group_id, "TagType": "tag_group", "ChangeType": "create"})
        events += [{"Id": t.tag_id, "TagType": "tag", "ChangeType": "create"} for t in tags]
        result: dict[str, Any] = {"group_id": group.group_id, "tag_ids": [t.tag_id for t in tags]}
    elif op == "update":
        kind = corp_tags.edit(
            corp, id=body.get("id"), name=body.get("name"), order=body.get("order")
        )
        events.append({"Id": body["id"], "TagType": kind, "ChangeType": "update"})
        result = {}
    elif op == "shuffle":
        shuffled = corp.tag_groups.get(str(body.get("group_id")))
        order = list(body.get("tag_ids") or [])
        if shuffled is None or sorted(order) != sorted(shuffled.tag_ids):
            raise ValueError("shuffle takes a group_id and every tag id of that group")
        # WeCom sorts a higher order first: the first tag gets the highest.
        for position, tag_id in enumerate(order):
            corp.tags[tag_id].order = len(order) - position
        events.append({"Id": shuffled.group_id, "TagType": "tag_group", "ChangeType": "shuffle"})
        result = {}
    elif op == "delete":
        deleted = corp_tags.delete(corp, tag_ids=body.get("tag_id"), group_ids=body.get("group_id"))
        events += [{"Id": i, "TagType": kind, "ChangeType": "delete"} for kind, i in deleted]
        result = {"deleted": [{"type": kind, "id": i} for kind, i in deleted]}
    else:
        raise ValueError("op is create, update, shuffle or delete")
    result["delivery_ids"] = [
        sb.emit(corp, "customer_contact", {"Event": "change_external_tag", **event})
        for event in events
    ]
    return result


# --- group chats ------------------------------------------------------------------------


def create_group_chat(
    sb: "Sandbox",
    corp: Corp,
    *,
    owner: str,
    name: str,
    members: list[str],
    external_userids: list[str],
    notice: str = "",
    chat_id: str | None = None,
) -> dict[str, Any]:
    """A member creates a customer group: `change_external_chat/create`."""
    _member(corp, owner)
    now = sb.now()
    chat = GroupChat(chat_id or identifiers.chat_id(), name, owner, now)
    chat.notice = notice
    for userid in dict.fromkeys([owner, *members]):
        _member(corp, userid)
        chat.members.append(
            {
                "userid": userid,
                "type": 1,
                "join_time": now,
                "join_scene": 1,
                "name": corp.members[userid].name,
            }
        )
    for external_userid in dict.fromkeys(external_userids):
        chat.members.append(_external_chat_member(corp, external_userid, owner, now))
    corp.group_chats[chat.chat_id] = chat
    delivery = sb.emit(
        corp,
        "customer_contact",
        {"Event": "change_external_chat", "ChatId": chat.chat_id, "ChangeType": "create"},
    )
    return {"chat_id": chat.chat_id, "delivery_id": delivery}


def _external_chat_member(
    corp: Corp, external_userid: str, invitor: str, now: int
) -> dict[str, Any]:
    customer = _customer(corp, external_userid)
    item: dict[str, Any] = {
        "userid": external_userid,
        "type": 2,
        "join_time": now,
        "join_scene": 1,
        "invitor": {"userid": invitor},
        "group_nickname": "",
        "name": customer.name,
    }
    if customer.unionid:
        item["unionid"] = customer.unionid
    return item


def change_group_members(
    sb: "Sandbox",
    corp: Corp,
    *,
    chat_id: str,
    add_members: list[str],
    add_external_userids: list[str],
    remove: list[str],
) -> dict[str, Any]:
    """People join or leave a customer group: `change_external_chat/update`."""
    chat = corp.group_chats.get(chat_id)
    if chat is None:
        raise LookupError(f"no group chat {chat_id!r}")
    now = sb.now()
    present = {item["userid"] for item in chat.members}
    added = 0
    for userid in add_members:
        if userid not in present:
            _member(corp, userid)
            chat.members.append(
                {
                    "userid": userid,
                    "type": 1,
                    "join_time": now,
                    "join_scene": 1,
                    "name": corp.members[userid].name,
                }
            )
            added += 1
    for external_userid in add_external_userids:
        if external_userid not in present:
            chat.members.append(_external_chat_member(corp, external_userid, chat.owner, now))
            added += 1
    before = len(chat.members)
    chat.members = [item for item in chat.members if item["userid"] not in set(remove)]
    removed = before - len(chat.members)
    deliveries = []
    if added:
        deliveries.append(
            sb.emit(
                corp,
                "customer_contact",
                {
                    "Event": "change_external_chat",
                    "ChatId": chat_id,
                    "ChangeType": "update",
                    "UpdateDetail": "add_member",
                    "JoinScene": 1,
                    "MemChangeCnt": added,
                },
            )
        )
    if removed:
        deliveries.append(
            sb.emit(
                corp,
                "customer_contact",
                {
                    "Event": "change_external_chat",
                    "ChatId": chat_id,
                    "ChangeType": "update",
                    "UpdateDetail": "del_member",
                    "QuitScene": 0,
                    "MemChangeCnt": removed,
                },
            )
        )
    return {"added": added, "removed": removed, "delivery_ids": deliveries}


# --- transfers --------------------------------------------------------------------------


def complete_transfer(sb: "Sandbox", corp: Corp, transfer: Transfer, *, at: int) -> None:
    """The takeover happens: the relationship moves to the takeover member.

    UNCONFIRMED details: the new follow keeps remark, description, tags, state and add_way;
    the handover gets `del_external_contact` with Source=DELETE_BY_TRANSFER (on-duty only;
    a resigned member is gone), the takeover `add_external_contact` without a WelcomeCode
    unless they were already friends.
    """
    corp.pending_transfers.pop(transfer.external_userid, None)
    transfer.takeover_time = at
    old = corp.find_follow(transfer.external_userid, transfer.handover)
    takeover = corp.members.get(transfer.takeover)
    if old is None or takeover is None or not takeover.active:
        # The relationship or the takeover vanished meanwhile: WeCom cannot complete it.
        transfer.status = TRANSFER_REFUSED
        return
    already = corp.find_follow(transfer.external_userid, transfer.takeover)
    limit = sb.quotas.member_customer_limit
    if already is None and limit is not None and len(takeover.follows) >= limit:
        transfer.status = TRANSFER_LIMIT
        sb.emit_contact_event(
            corp,
            {
                "ChangeType": "transfer_fail",
                "UserID": transfer.takeover,
                "ExternalUserID": transfer.external_userid,
                "FailReason": "customer_limit_exceed",
            },
        )
        return
    transfer.status = TRANSFER_DONE
    corp.remove_follow(old)
    if already is None:
        corp.add_follow(
            Follow(
                transfer.external_userid,
                transfer.takeover,
                at,
                add_way=old.add_way,
                state=old.state,
                oper_userid=transfer.takeover,
                remark=old.remark,
                description=old.description,
                remark_corp_name=old.remark_corp_name,
                remark_mobiles=old.remark_mobiles,
                tag_ids=old.tag_ids,
            )
        )
    if transfer.success_msg:
        corp.received.setdefault(transfer.external_userid, []).append(
            Receipt("transfer_success_msg", at, transfer.takeover, "", transfer.success_msg, [])
        )
    if transfer.kind == "onjob":
        sb.emit_contact_event(
            corp,
            {
                "ChangeType": "del_external_contact",
                "UserID": transfer.handover,
                "ExternalUserID": transfer.external_userid,
                "Source": "DELETE_BY_TRANSFER",
            },
        )
    if already is None:
        sb.emit_contact_event(
            corp,
            {
                "ChangeType": "add_external_contact",
                "UserID": transfer.takeover,
                "ExternalUserID": transfer.external_userid,
            },
        )


def decide_transfer(
    sb: "Sandbox",
    corp: Corp,
    *,
    external_userid: str,
    outcome: str,
    handover_userid: str | None = None,
) -> dict[str, Any]:
    """The customer accepts or refuses a waiting transfer, or the takeover is full.

    outcome: "accept" (status 1), "refuse" (3), "limit" (4). Failures send `transfer_fail`
    (UserID = takeover) with FailReason customer_refused / customer_limit_exceed
    (UNCONFIRMED values). A refused resigned transfer loses the customer (del_follow_user).
    """
    transfer = corp.pending_transfers.get(external_userid)
    if transfer is None or (handover_userid and transfer.handover != handover_userid):
        raise LookupError(f"no waiting transfer for {external_userid!r}")
    assert transfer.status == TRANSFER_WAITING
    now = sb.now()
    if outcome == "accept":
        complete_transfer(sb, corp, transfer, at=now)
        return {"status": transfer.status}
    if outcome not in ("refuse", "limit"):
        raise ValueError("outcome is accept, refuse or limit")
    corp.pending_transfers.pop(external_userid, None)
    transfer.status = TRANSFER_REFUSED if outcome == "refuse" else TRANSFER_LIMIT
    transfer.takeover_time = now
    reason = "customer_refused" if outcome == "refuse" else "customer_limit_exceed"
    sb.emit_contact_event(
        corp,
        {
            "ChangeType": "transfer_fail",
            "UserID": transfer.takeover,
            "ExternalUserID": external_userid,
            "FailReason": reason,
        },
    )
    if transfer.kind == "resigned" and outcome == "refuse":
        old = corp.find_follow(external_userid, transfer.handover)
        if old is not None:
            corp.remove_follow(old)
            sb.emit_contact_event(
                corp,
                {
                    "ChangeType": "del_follow_user",
                    "UserID": transfer.handover,
                    "ExternalUserID": external_userid,
                },
            )
    return {"status": transfer.status}


# --- group sends ------------------------------------------------------------------------


def _monthly_count(corp: Corp, target: str, now: int) -> int:
    this_month = month_key(now)
    return sum(
        1
        for item in corp.received.get(target, ())
        if item.kind == "group_msg" and month_key(item.at) == this_month
    )


def confirm_template(
    sb: "Sandbox",
    corp: Corp,
    *,
    msgid: str,
    userid: str | None = None,
    skip: list[str] | None = None,
) -> dict[str, Any]:
    """The member confirms the group send in the client; delivery happens now.

    Per customer: 2 if no longer a friend of the sender, 3 if it already got its monthly
    quota of group messages (days in the month, or the configured cap), else 1. `skip`
    lists customers the member deselected (allow_select); they stay 0.
    """
    template = corp.templates.get(msgid)
    if template is None:
        raise LookupError(f"no msg template {msgid!r}")
    if template.cancelled:
        raise ValueError("the group send was cancelled")
    userids = (
        [userid] if userid else [u for u, (status, _) in template.tasks.items() if status == 0]
    )
    if userid and userid not in template.tasks:
        raise LookupError(f"{userid!r} has no task in {msgid}")
    now = sb.now()
    cap = sb.quotas.group_msg_monthly_cap or days_in_month(now)
    skipped = set(skip or ())
    text = (template.text or {}).get("content", "")
    counts = {1: 0, 2: 0, 3: 0, 0: 0}
    for sender in userids:
        task = template.tasks[sender]
        if task[0] == 2:
            continue
        member = corp.members.get(sender)
        for target, result in template.results[sender].items():
            if target in skipped:
                counts[0] += 1
                continue
            if template.chat_type == "single":
                friend = member is not None and target in member.follows
            else:
                chat = corp.group_chats.get(target)
                friend = chat is not None and chat.owner == sender
            if not friend:
                status = 2
            elif _monthly_count(corp, target, now) >= cap:
                status = 3
            else:
                status = 1
                corp.received.setdefault(target, []).append(
                    Receipt("group_msg", now, sender, msgid, text, template.attachments)
                )
            result[0], result[1] = status, (now if status == 1 else 0)
            counts[status] += 1
        task[0], task[1] = 2, now
    return {
        "msgid": msgid,
        "userids": userids,
        "sent": counts[1],
        "not_friend": counts[2],
        "over_limit": counts[3],
        "skipped": counts[0],
    }
