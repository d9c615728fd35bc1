"""「联系我」 contact ways: add / get / list / update / del."""

from datetime import datetime
from typing import Any

from wecom_sandbox import identifiers
from wecom_sandbox.clock import CHINA_TZ
from wecom_sandbox.errors import WeComError
from wecom_sandbox.records import ContactWay
from wecom_sandbox.rules import (
    CONTACT_WAY_REMARK_MAX_CHARS,
    CONTACT_WAY_STATE_MAX_CHARS,
    CONTACT_WAY_STYLES,
)
from wecom_sandbox.state import Corp
from wecom_sandbox.wecom_api.routing import ApiCall, api, decode_cursor, page

# Fields the sandbox stores and echoes back without acting on them.
ECHOED_OPTIONS = (
    "expires_in",
    "chat_expires_in",
    "unionid",
    "is_exclusive",
    "conclusions",
    "mark_source",
)
LIST_DEFAULT_RANGE_SECONDS = 90 * 24 * 3600
LIST_LIMIT_MAX = 1000
LIST_LIMIT_DEFAULT = 100


def _check_users(call: ApiCall, users: list[str], max_users: int) -> tuple[str, ...]:
    corp = call.corp
    if len(users) > max_users:
        raise WeComError(41041, f"user count exceeds the limit of {max_users}")
    for userid in users:
        member = corp.members.get(userid)
        if member is None or not member.active:
            raise WeComError(60111, f"userid not found: {userid}")
        if not member.customer_contact:
            raise WeComError(610004, f"userid not in customer contact range: {userid}")
    return tuple(dict.fromkeys(users))


def _check_party(corp: Corp, party: Any) -> tuple[int, ...]:
    if party is None:
        return ()
    if not isinstance(party, list) or not all(isinstance(p, int) for p in party):
        raise WeComError(40058, "party must be a list of department ids")
    for department_id in party:
        if department_id not in corp.departments:
            raise WeComError(60123, f"invalid department id: {department_id}")
    return tuple(party)


def _check_text(call: ApiCall, name: str, max_chars: int) -> str:
    value = call.string(name)
    if len(value) > max_chars:
        raise WeComError(40058, f"{name} exceed max length {max_chars}")
    return value


def _check_style(type_: int, style: Any) -> int | None:
    if style is None:
        return None
    if not isinstance(style, int) or style not in CONTACT_WAY_STYLES[type_]:
        raise WeComError(41042, f"invalid style: {style}")
    return style


def contact_way_json(way: ContactWay) -> dict[str, Any]:
    data: dict[str, Any] = {
        "config_id": way.config_id,
        "type": way.type,
        "scene": way.scene,
        "remark": way.remark,
        "skip_verify": way.skip_verify,
        "state": way.state,
        "user": list(way.user),
        "party": list(way.party),
        "is_temp": way.is_temp,
    }
    if way.style is not None:
        data["style"] = way.style
    if way.qr_code:
        data["qr_code"] = way.qr_code
    # Keys starting with "_" are the sandbox's own bookkeeping (a used temp way).
    data.update({k: v for k, v in way.options.items() if not k.startswith("_")})
    return data


@api("externalcontact/add_contact_way", customer_contact=True)
def add_contact_way(call: ApiCall) -> dict[str, Any]:
    corp, quotas = call.corp, call.sandbox.quotas
    type_ = call.integer("type")
    if type_ is None:
        raise WeComError(41037)
    if type_ not in (1, 2):
        raise WeComError(41039, f"invalid type: {type_}")
    scene = call.integer("scene")
    if scene is None:
        raise WeComError(41038)
    if scene not in (1, 2):
        raise WeComError(41040, f"invalid scene: {scene}")
    style = _check_style(type_, call.param("style"))
    remark = _check_text(call, "remark", CONTACT_WAY_REMARK_MAX_CHARS)
    state = _check_text(call, "state", CONTACT_WAY_STATE_MAX_CHARS)
    users = _check_users(call, call.string_list("user"), quotas.contact_way_max_users)
    party = _check_party(corp, call.param("party"))
    if type_ == 1 and (len(users) != 1 or party):
        raise WeComError(40058, "type 1 (single) needs exactly one user and no party")
    if type_ == 2 and not users and not party:
        raise WeComError(40058, "user or party is required")
    is_temp = bool(call.param("is_temp", False))
    if is_temp:
        if type_ != 1:
            raise WeComError(40058, "temporary contact ways are single-person only")
        day = datetime.fromtimestamp(call.now, CHINA_TZ).strftime("%Y-%m-%d")
        if corp.temp_contact_ways_by_day.get(day, 0) >= quotas.temp_contact_ways_per_day:
            raise WeComError(41045, "temporary contact ways per day reach the limit")
        corp.temp_contact_ways_by_day = {day: corp.temp_contact_ways_by_day.get(day, 0) + 1}
    elif corp.api_contact_way_count >= quotas.contact_way_quota:
        raise WeComError(
            41045, f"contact ways created by api reach the limit of {quotas.contact_way_quota}"
        )
    skip_verify = call.param("skip_verify", True)
    way = ContactWay(
        identifiers.config_id(),
        type_,
        scene,
        style=style,
        remark=remark,
        skip_verify=bool(skip_verify),
        state=state,
        user=users,
        party=party,
        qr_code=identifiers.qr_code_url() if scene == 2 else "",
        is_temp=is_temp,
        options={name: call.body[name] for name in ECHOED_OPTIONS if name in call.body},
        created_at=call.now,
    )
    corp.contact_ways[way.config_id] = way
    if not is_temp:
        corp.api_contact_way_count += 1
    answer: dict[str, Any] = {"config_id": way.config_id}
    if way.qr_code:
        answer["qr_code"] = way.qr_code
    return answer


def _way(call: ApiCall) -> ContactWay:
    config_id = call.string("config_id", required=True, errcode=41043)
    way = call.corp.contact_ways.get(config_id)
    if way is None:
        raise WeComError(41044, f"invalid config_id: {config_id}")
    return way


@api("externalcontact/get_contact_way", customer_contact=True)
def get_contact_way(call: ApiCall) -> dict[str, Any]:
    # The current API answers an object; wechatpy's fixture still shows the old list.
    return {"contact_way": contact_way_json(_way(call))}


@api("externalcontact/list_contact_way", customer_contact=True)
def list_contact_way(call: ApiCall) -> dict[str, Any]:
    end_time = call.integer("end_time", call.now) or call.now
    start_time = call.integer("start_time", end_time - LIST_DEFAULT_RANGE_SECONDS)
    assert start_time is not None
    if end_time - start_time > LIST_DEFAULT_RANGE_SECONDS:
        raise WeComError(40058, "start_time and end_time span more than 90 days")
    limit = call.integer("limit", LIST_LIMIT_DEFAULT) or LIST_LIMIT_DEFAULT
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise WeComError(40058, f"limit must be in [1, {LIST_LIMIT_MAX}]")
    ways = [
        w
        for w in call.corp.contact_ways.values()
        if start_time <= w.created_at <= end_time and not w.is_temp
    ]
    chunk, next_cursor = page(ways, decode_cursor(call.param("cursor")), limit)
    return {"contact_way": [{"config_id": w.config_id} for w in chunk], "next_cursor": next_cursor}


@api("externalcontact/update_contact_way", customer_contact=True)
def update_contact_way(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    way = _way(call)
    users = way.user
    party = way.party
    if "user" in call.body:
        users = _check_users(
            call, call.string_list("user"), call.sandbox.quotas.contact_way_max_users
        )
    if "party" in call.body:
        party = _check_party(corp, call.body["party"])
    if way.type == 1 and (len(users) != 1 or party):
        raise WeComError(40058, "type 1 (single) needs exactly one user and no party")
    if way.type == 2 and not users and not party:
        raise WeComError(40058, "user or party is required")
    if "style" in call.body:
        way.style = _check_style(way.type, call.body["style"])
    if "remark" in call.body:
        way.remark = _check_text(call, "remark", CONTACT_WAY_REMARK_MAX_CHARS)
    if "state" in call.body:
        way.state = _check_text(call, "state", CONTACT_WAY_STATE_MAX_CHARS)
    if "skip_verify" in call.body:
        way.skip_verify = bool(call.body["skip_verify"])
    way.user, way.party = users, party
    for name in ECHOED_OPTIONS:
        if name in call.body:
            way.options[name] = call.body[name]
    return {}


@api("externalcontact/del_contact_way", customer_contact=True)
def del_contact_way(call: ApiCall) -> dict[str, Any]:
    way = _way(call)
    del call.corp.contact_ways[way.config_id]
    if not way.is_temp:
        call.corp.api_contact_way_count -= 1
    return {}
