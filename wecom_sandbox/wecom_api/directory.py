"""Members and departments (通讯录读取)."""

from typing import Any

from wecom_sandbox.errors import WeComError
from wecom_sandbox.records import Member
from wecom_sandbox.rules import USER_LIST_ID_LIMIT_MAX
from wecom_sandbox.state import Corp
from wecom_sandbox.wecom_api.routing import ApiCall, api, decode_cursor, page


def member_json(member: Member) -> dict[str, Any]:
    return {
        "userid": member.userid,
        "name": member.name,
        "department": list(member.department),
        "main_department": member.department[0] if member.department else 1,
        "position": member.position,
        "gender": str(member.gender),
        "status": member.status,
        "enable": 1,
        "isleader": 0,
        "is_leader_in_dept": [0] * len(member.department),
        "order": [0] * len(member.department),
    }


@api("user/get")
def user_get(call: ApiCall) -> dict[str, Any]:
    return member_json(call.corp.member(call.string("userid", required=True, errcode=41009)))


@api("user/list_id")
def user_list_id(call: ApiCall) -> dict[str, Any]:
    limit = call.integer("limit", USER_LIST_ID_LIMIT_MAX) or USER_LIST_ID_LIMIT_MAX
    if not 1 <= limit <= USER_LIST_ID_LIMIT_MAX:
        raise WeComError(40058, f"limit must be in [1, {USER_LIST_ID_LIMIT_MAX}]")
    members = call.corp.active_members()
    chunk, next_cursor = page(members, decode_cursor(call.param("cursor")), limit)
    dept_user = [
        {"userid": member.userid, "department": department}
        for member in chunk
        for department in member.department
    ]
    return {"dept_user": dept_user, "next_cursor": next_cursor}


def _members_of(call: ApiCall) -> list[Member]:
    corp = call.corp
    department_id = call.integer("department_id")
    if department_id is None:
        raise WeComError(40058, "department_id is required")
    if department_id not in corp.departments:
        raise WeComError(60123, f"invalid department id: {department_id}")
    fetch_child = call.integer("fetch_child", 0) == 1
    wanted = set(corp.descendant_departments(department_id)) if fetch_child else {department_id}
    return [m for m in corp.active_members() if wanted.intersection(m.department)]


@api("user/simplelist")
def user_simplelist(call: ApiCall) -> dict[str, Any]:
    return {
        "userlist": [
            {"userid": m.userid, "name": m.name, "department": list(m.department)}
            for m in _members_of(call)
        ]
    }


@api("user/list")
def user_list(call: ApiCall) -> dict[str, Any]:
    return {"userlist": [member_json(m) for m in _members_of(call)]}


def _departments(call: ApiCall) -> list[Any]:
    corp: Corp = call.corp
    department_id = call.integer("id")
    if department_id is None:
        ids = list(corp.departments)
    elif department_id not in corp.departments:
        raise WeComError(60123, f"invalid department id: {department_id}")
    else:
        ids = corp.descendant_departments(department_id)
    return [corp.departments[i] for i in ids]


@api("department/list")
def department_list(call: ApiCall) -> dict[str, Any]:
    return {
        "department": [
            {
                "id": d.id,
                "name": d.name,
                "name_en": "",
                "department_leader": [],
                "parentid": d.parentid,
                "order": d.order,
            }
            for d in _departments(call)
        ]
    }


@api("department/simplelist")
def department_simplelist(call: ApiCall) -> dict[str, Any]:
    return {
        "department_id": [
            {"id": d.id, "parentid": d.parentid, "order": d.order} for d in _departments(call)
        ]
    }
