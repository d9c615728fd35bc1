"""Corp tags (企业客户标签) and marking them on relationships."""

from typing import Any

from wecom_sandbox import corp_tags
from wecom_sandbox.errors import WeComError
from wecom_sandbox.wecom_api.routing import ApiCall, api


@api("externalcontact/get_corp_tag_list", customer_contact=True)
def get_corp_tag_list(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    tag_ids = set(call.string_list("tag_id"))
    group_ids = set(call.string_list("group_id"))
    groups = corp_tags.sorted_groups(corp)
    if group_ids:
        # When both filters are given, only group_id applies (WECOM.md §7).
        shown = [corp_tags.group_json(corp, g) for g in groups if g.group_id in group_ids]
    elif tag_ids:
        shown = []
        for group in groups:
            tags = [t for t in corp_tags.sorted_tags(corp, group) if t.tag_id in tag_ids]
            if tags:
                shown.append(corp_tags.group_json(corp, group, tags))
    else:
        shown = [corp_tags.group_json(corp, g) for g in groups]
    return {"tag_group": shown}


@api("externalcontact/add_corp_tag", customer_contact=True)
def add_corp_tag(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    group, tags = corp_tags.add_tags(
        corp,
        group_id=call.string("group_id") or None,
        group_name=call.string("group_name") or None,
        order=call.param("order"),
        tags=call.param("tag"),
        now=call.now,
        limit=call.sandbox.quotas.corp_tag_limit,
    )
    return {"tag_group": corp_tags.group_json(corp, group, tags, deleted_flag=False)}


@api("externalcontact/edit_corp_tag", customer_contact=True)
def edit_corp_tag(call: ApiCall) -> dict[str, Any]:
    corp_tags.edit(
        call.corp, id=call.param("id"), name=call.param("name"), order=call.param("order")
    )
    return {}


@api("externalcontact/del_corp_tag", customer_contact=True)
def del_corp_tag(call: ApiCall) -> dict[str, Any]:
    corp_tags.delete(call.corp, tag_ids=call.param("tag_id"), group_ids=call.param("group_id"))
    return {}


@api("externalcontact/mark_tag", customer_contact=True)
def mark_tag(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    follow = corp.follow(call.string("userid"), call.string("external_userid"))
    add = corp_tags.check_tag_ids(corp, call.param("add_tag"))
    remove = call.string_list("remove_tag")
    if not add and not remove:
        raise WeComError(40058, "add_tag and remove_tag are both empty")
    follow.tag_ids = corp_tags.apply_tag_changes(corp, follow.tag_ids, add, remove)
    return {}
