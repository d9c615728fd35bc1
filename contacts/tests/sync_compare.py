"""Compare the contact book in the current schema with a WeCom sandbox snapshot.

Used by the sync tests and by bench/contacts_sync.py; returns the differences, empty when
the platform holds exactly what the sandbox holds.
"""

from typing import Any

from contacts.models import Customer, GroupChat, Guide, Relation


def sandbox_state(control: Any, corp_id: str) -> dict[str, Any]:
    """Every page of the sandbox's snapshot, relations concatenated."""
    first = control.snapshot(corp_id)
    relations = list(first["relations"])
    while len(relations) < first["relations_total"]:
        relations += control.snapshot(corp_id, offset=len(relations))["relations"]
    return {**first, "relations": relations}


def expected_sets(state: dict[str, Any]) -> dict[str, set[tuple[Any, ...]]]:
    return {
        "guides": {
            (m["userid"], m["name"], m["department"][0] if m["department"] else None)
            for m in state["members"]
            if m["active"]
        },
        "customers": {tuple(c) for c in state["customers"]},
        "relations": {
            (r[0], r[1], r[2], r[3], tuple(r[4]), r[5], r[6], r[7], tuple(r[8]))
            for r in state["relations"]
        },
        "group_chats": {
            (c["chat_id"], c["name"], c["owner"], tuple(c["members"])) for c in state["group_chats"]
        },
    }


def platform_sets() -> dict[str, set[tuple[Any, ...]]]:
    relations = {
        (u, e, remark, desc, tuple(mobiles), way, state, int(added.timestamp()), tuple(tags))
        for u, e, remark, desc, mobiles, way, state, added, tags in Relation.objects.filter(
            status=Relation.Status.ACTIVE
        )
        .values_list(
            "guide__userid",
            "customer__external_userid",
            "remark",
            "description",
            "remark_mobiles",
            "add_way",
            "state",
            "added_at",
            "wecom_tag_ids",
        )
        .iterator(chunk_size=20_000)
    }
    customers = set(
        Customer.objects.filter(relations__status=Relation.Status.ACTIVE)
        .distinct()
        .values_list("external_userid", "name", "type", "gender", "unionid")
        .iterator(chunk_size=20_000)
    )
    guides = set(
        Guide.objects.filter(status=Guide.Status.ACTIVE).values_list(
            "userid", "name", "store__department_id"
        )
    )
    chats = {
        (
            chat.chat_id,
            chat.name,
            chat.owner_userid,
            tuple(sorted(m.userid for m in chat.members.all())),
        )
        for chat in GroupChat.objects.exclude(status=GroupChat.Status.DISMISSED).prefetch_related(
            "members"
        )
    }
    return {"guides": guides, "customers": customers, "relations": relations, "group_chats": chats}


def member_ids(chat: GroupChat) -> tuple[str, ...]:
    return tuple(sorted(m.userid for m in chat.members.all()))


def differences(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{kind: {"missing": n, "extra": n, "sample": [...]}} for every kind that differs."""
    expected, actual = expected_sets(state), platform_sets()
    found: dict[str, dict[str, Any]] = {}
    for kind, wanted in expected.items():
        have = actual[kind]
        missing, extra = wanted - have, have - wanted
        if missing or extra:
            found[kind] = {
                "missing": len(missing),
                "extra": len(extra),
                "sample": sorted(map(str, missing))[:3] + sorted(map(str, extra))[:3],
            }
    return found
