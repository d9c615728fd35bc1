"""Customers (客户管理): follow users, lists, details, batch details, remarks."""

import itertools
from typing import Any

from wecom_sandbox import identifiers
from wecom_sandbox.errors import WeComError
from wecom_sandbox.message_content import check_media
from wecom_sandbox.records import Customer, Follow, Member
from wecom_sandbox.rules import (
    BATCH_LIMIT_DEFAULT,
    BATCH_LIMIT_MAX,
    BATCH_USERID_MAX,
    GET_FOLLOW_USER_PAGE,
)
from wecom_sandbox.state import Corp
from wecom_sandbox.wecom_api.routing import ApiCall, api, decode_cursor, encode_cursor, page


def external_contact_json(customer: Customer) -> dict[str, Any]:
    data: dict[str, Any] = {
        "external_userid": customer.external_userid,
        "name": customer.name,
        "avatar": customer.avatar or identifiers.avatar_for(customer.external_userid),
        "type": customer.type,
        "gender": customer.gender,
    }
    if customer.unionid:
        data["unionid"] = customer.unionid
    if customer.extra:
        data.update(customer.extra)
    return data


def _follow_common(follow: Follow) -> dict[str, Any]:
    data: dict[str, Any] = {
        "userid": follow.userid,
        "remark": follow.remark,
        "description": follow.description,
        "createtime": follow.createtime,
    }
    if follow.remark_corp_name:
        data["remark_corp_name"] = follow.remark_corp_name
    data["remark_mobiles"] = list(follow.remark_mobiles)
    data["oper_userid"] = follow.oper_userid
    data["add_way"] = follow.add_way
    if follow.state:
        data["state"] = follow.state
    return data


def follow_user_json(corp: Corp, follow: Follow) -> dict[str, Any]:
    """`follow_user` item of externalcontact/get: tags spelled out."""
    data = _follow_common(follow)
    tags = []
    for tag_id in corp.live_tag_ids(follow):
        tag = corp.tags[tag_id]
        tags.append(
            {
                "group_name": corp.tag_groups[tag.group_id].name,
                "tag_name": tag.name,
                "tag_id": tag_id,
                "type": 1,
            }
        )
    data["tags"] = tags
    return data


def follow_info_json(corp: Corp, follow: Follow) -> dict[str, Any]:
    """`follow_info` of batch/get_by_user: tag ids only (the two APIs differ here)."""
    data = _follow_common(follow)
    data["tag_id"] = corp.live_tag_ids(follow)
    return data


@api("externalcontact/get_follow_user_list", customer_contact=True)
def get_follow_user_list(call: ApiCall) -> dict[str, Any]:
    return {"follow_user": [m.userid for m in call.corp.active_members() if m.customer_contact]}


@api("externalcontact/list", customer_contact=True)
def list_customers(call: ApiCall) -> dict[str, Any]:
    member = call.corp.member(call.string("userid", required=True, errcode=41009))
    if not member.follows:
        # WeCom answers 84061 rather than an empty list for a member without customers.
        raise WeComError(84061)
    return {"external_userid": list(member.follows)}


@api("externalcontact/get", customer_contact=True)
def get_customer(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    customer = corp.customer(call.string("external_userid", required=True, errcode=41035))
    if not customer.follows:
        raise WeComError(84061)
    follows, next_cursor = page(
        list(customer.follows), decode_cursor(call.param("cursor")), GET_FOLLOW_USER_PAGE
    )
    return {
        "external_contact": external_contact_json(customer),
        "follow_user": [follow_user_json(corp, f) for f in follows],
        "next_cursor": next_cursor,
    }


@api("externalcontact/batch/get_by_user", customer_contact=True)
def batch_get_by_user(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    userids = call.string_list("userid_list")
    if not userids:
        raise WeComError(40058, "userid_list is required")
    if len(userids) > BATCH_USERID_MAX:
        raise WeComError(40058, f"field userid_list exceed max size {BATCH_USERID_MAX}")
    limit = call.integer("limit", BATCH_LIMIT_DEFAULT) or BATCH_LIMIT_DEFAULT
    if limit < 1:
        raise WeComError(40058, "limit must be positive")
    limit = min(limit, BATCH_LIMIT_MAX)  # WeCom clamps rather than refusing
    members: list[Member] = []
    for userid in dict.fromkeys(userids):
        member = corp.members.get(userid)
        if member is not None and member.active:
            members.append(member)
    offset = decode_cursor(call.param("cursor"))
    chunk: list[Follow] = []
    skipped = 0
    total = sum(len(m.follows) for m in members)
    for member in members:
        size = len(member.follows)
        if skipped + size <= offset:
            skipped += size
            continue
        start = max(0, offset - skipped)
        wanted = limit - len(chunk)
        chunk.extend(itertools.islice(member.follows.values(), start, start + wanted))
        skipped += size
        if len(chunk) >= limit:
            break
    end = offset + len(chunk)
    return {
        "external_contact_list": [
            {
                "external_contact": external_contact_json(corp.customers[f.external_userid]),
                "follow_info": follow_info_json(corp, f),
            }
            for f in chunk
        ],
        "next_cursor": encode_cursor(end) if end < total else "",
    }


@api("externalcontact/remark", customer_contact=True)
def remark(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    follow = corp.follow(call.string("userid"), call.string("external_userid"))
    if "remark" in call.body:
        follow.remark = call.string("remark")
    if "description" in call.body:
        follow.description = call.string("description")
    if "remark_company" in call.body:
        follow.remark_corp_name = call.string("remark_company")
    if "remark_mobiles" in call.body:
        follow.remark_mobiles = tuple(call.string_list("remark_mobiles"))
    if call.body.get("remark_pic_mediaid"):
        check_media(corp, call.body["remark_pic_mediaid"], call.now)
    # Changes made through the API produce no callback (OFF 96361).
    return {}
