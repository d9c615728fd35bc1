"""Corp tags (企业客户标签): the rules shared by the API and the simulated admin console."""

from typing import Any

from wecom_sandbox import identifiers
from wecom_sandbox.errors import WeComError
from wecom_sandbox.records import Tag, TagGroup
from wecom_sandbox.rules import CORP_TAG_NAME_MAX_CHARS
from wecom_sandbox.state import Corp


def check_name(name: Any, field: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise WeComError(40071, f"invalid {field}: empty")
    if len(name) > CORP_TAG_NAME_MAX_CHARS:
        raise WeComError(40058, f"{field} exceed max length {CORP_TAG_NAME_MAX_CHARS}")
    return name


def check_order(order: Any) -> int:
    # OFF: order is a 32-bit unsigned value; a higher value sorts first.
    if order is None:
        return 0
    if not isinstance(order, int) or not 0 <= order < 2**32:
        raise WeComError(40058, "order must be an integer in [0, 2^32)")
    return order


def sorted_groups(corp: Corp) -> list[TagGroup]:
    return sorted(corp.tag_groups.values(), key=lambda g: (-g.order, g.create_time, g.group_id))


def sorted_tags(corp: Corp, group: TagGroup) -> list[Tag]:
    tags = [corp.tags[tag_id] for tag_id in group.tag_ids]
    return sorted(tags, key=lambda t: (-t.order, t.create_time, t.tag_id))


def tag_json(tag: Tag, *, deleted_flag: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": tag.tag_id,
        "name": tag.name,
        "create_time": tag.create_time,
        "order": tag.order,
    }
    if deleted_flag:
        data["deleted"] = False
    return data


def group_json(
    corp: Corp, group: TagGroup, tags: list[Tag] | None = None, *, deleted_flag: bool = True
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "group_id": group.group_id,
        "group_name": group.name,
        "create_time": group.create_time,
        "order": group.order,
    }
    if deleted_flag:
        data["deleted"] = False
    shown = sorted_tags(corp, group) if tags is None else tags
    data["tag"] = [tag_json(tag, deleted_flag=deleted_flag) for tag in shown]
    return data


def add_tags(
    corp: Corp,
    *,
    group_id: str | None,
    group_name: str | None,
    order: Any,
    tags: Any,
    now: int,
    limit: int,
) -> tuple[TagGroup, list[Tag]]:
    """Add tags to a group (by id), or to a group by name, creating it if new.

    A tag whose name already exists in the group is returned as is (WeCom does the same).
    """
    if not isinstance(tags, list) or not tags:
        raise WeComError(40058, "tag is required")
    names = [
        check_name(item.get("name") if isinstance(item, dict) else None, "tag name")
        for item in tags
    ]
    orders = [check_order(item.get("order")) for item in tags]
    if group_id:
        group = corp.tag_groups.get(group_id)
        if group is None:
            raise WeComError(40068, f"invalid group_id: {group_id}")
    elif group_name:
        name = check_name(group_name, "group_name")
        group = next((g for g in corp.tag_groups.values() if g.name == name), None)
        if group is None:
            group = TagGroup(identifiers.corp_tag_id(), name, check_order(order), now)
            corp.tag_groups[group.group_id] = group
    else:
        raise WeComError(40058, "group_id or group_name is required")
    by_name = {corp.tags[tag_id].name: corp.tags[tag_id] for tag_id in group.tag_ids}
    new_count = sum(1 for name in set(names) if name not in by_name)
    if len(corp.tags) + new_count > limit:
        if not group.tag_ids:
            del corp.tag_groups[group.group_id]
        raise WeComError(40126, f"corp tag count exceeds the limit of {limit}")
    result = []
    for name, tag_order in zip(names, orders, strict=True):
        tag = by_name.get(name)
        if tag is None:
            tag = Tag(identifiers.corp_tag_id(), group.group_id, name, tag_order, now)
            corp.tags[tag.tag_id] = tag
            group.tag_ids.append(tag.tag_id)
            by_name[name] = tag
        result.append(tag)
    return group, result


def edit(corp: Corp, *, id: Any, name: Any, order: Any) -> str:
    """Rename / reorder a tag or a group; returns "tag" or "tag_group"."""
    if not isinstance(id, str) or not id:
        raise WeComError(40058, "id is required")
    if id in corp.tags:
        tag = corp.tags[id]
        if name is not None:
            new_name = check_name(name, "name")
            group = corp.tag_groups[tag.group_id]
            if any(corp.tags[t].name == new_name and t != id for t in group.tag_ids):
                raise WeComError(40071, f"tag name already exists: {new_name}")
            tag.name = new_name
        if order is not None:
            tag.order = check_order(order)
        return "tag"
    if id in corp.tag_groups:
        group = corp.tag_groups[id]
        if name is not None:
            new_name = check_name(name, "name")
            if any(g.name == new_name and g.group_id != id for g in corp.tag_groups.values()):
                raise WeComError(40071, f"group name already exists: {new_name}")
            group.name = new_name
        if order is not None:
            group.order = check_order(order)
        return "tag_group"
    raise WeComError(40068, f"invalid id: {id}")


def delete(corp: Corp, *, tag_ids: Any, group_ids: Any) -> list[tuple[str, str]]:
    """Delete tags and whole groups; a group left without tags goes too (UNCONFIRMED).

    Returns what was deleted as ("tag" | "tag_group", id).
    """
    tag_ids = tag_ids or []
    group_ids = group_ids or []
    if not isinstance(tag_ids, list) or not isinstance(group_ids, list):
        raise WeComError(40058, "tag_id and group_id are lists")
    if not tag_ids and not group_ids:
        raise WeComError(40058, "tag_id or group_id is required")
    for tag_id in tag_ids:
        if tag_id not in corp.tags:
            raise WeComError(40068, f"invalid tag_id: {tag_id}")
    for group_id in group_ids:
        if group_id not in corp.tag_groups:
            raise WeComError(40068, f"invalid group_id: {group_id}")
    deleted: list[tuple[str, str]] = []
    for group_id in group_ids:
        group = corp.tag_groups.pop(group_id, None)
        if group is None:
            continue
        for tag_id in group.tag_ids:
            corp.tags.pop(tag_id, None)
        deleted.append(("tag_group", group_id))
    for tag_id in tag_ids:
        tag = corp.tags.pop(tag_id, None)
        if tag is None:
            continue
        deleted.append(("tag", tag_id))
        group = corp.tag_groups.get(tag.group_id)
        if group is not None:
            group.tag_ids.remove(tag_id)
            if not group.tag_ids:
                del corp.tag_groups[group.group_id]
                deleted.append(("tag_group", group.group_id))
    return deleted


def check_tag_ids(corp: Corp, tag_ids: Any) -> list[str]:
    if tag_ids is None:
        return []
    if not isinstance(tag_ids, list):
        raise WeComError(40058, "tag ids must be a list")
    for tag_id in tag_ids:
        if tag_id not in corp.tags:
            raise WeComError(40068, f"invalid tagid: {tag_id}")
    return tag_ids


def apply_tag_changes(
    corp: Corp, current: tuple[str, ...], add: list[str], remove: list[str]
) -> tuple[str, ...]:
    live = [tag_id for tag_id in current if tag_id in corp.tags and tag_id not in remove]
    for tag_id in add:
        if tag_id not in live:
            live.append(tag_id)
    return tuple(live)
