"""Save and load the whole state as one JSON file (records as rows, indexes rebuilt).

JSON rather than pickle: a state file is data, so loading one can never run code. Saved:
corps and everything in them, tokens, the clock offset and quotas. Not saved: frequency
limits, faults, callback settings and the callback delivery log (runtime configuration).
"""

import gc
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from wecom_sandbox.records import (
    EMPTY,
    App,
    ContactWay,
    Customer,
    Department,
    Follow,
    GroupChat,
    Media,
    Member,
    MsgTemplate,
    Receipt,
    Record,
    Tag,
    TagGroup,
    Transfer,
    WelcomeCode,
)
from wecom_sandbox.sandbox import Sandbox
from wecom_sandbox.state import Corp, Token

R = TypeVar("R", bound=Record)

FORMAT = "wecom-sandbox-state"
VERSION = 1


def _rows(records: Any) -> list[list[Any]]:
    return [record.to_row() for record in records]


def _follows(corp: Corp) -> Iterator[Follow]:
    for member in corp.members.values():
        yield from member.follows.values()


def _tags(corp: Corp) -> Iterator[Tag]:
    for group in corp.tag_groups.values():
        for tag_id in group.tag_ids:
            yield corp.tags[tag_id]


def corp_to_json(corp: Corp) -> dict[str, Any]:
    return {
        "corp_id": corp.corp_id,
        "name": corp.name,
        "apps": _rows(corp.apps.values()),
        "departments": _rows(corp.departments.values()),
        "members": _rows(corp.members.values()),
        "customers": _rows(corp.customers.values()),
        "follows": _rows(_follows(corp)),
        "tag_groups": _rows(corp.tag_groups.values()),
        "tags": _rows(_tags(corp)),
        "contact_ways": _rows(corp.contact_ways.values()),
        "api_contact_way_count": corp.api_contact_way_count,
        "temp_contact_ways_by_day": corp.temp_contact_ways_by_day,
        "welcome_codes": _rows(corp.welcome_codes.values()),
        "templates": _rows(corp.templates.values()),
        "received": {target: _rows(items) for target, items in corp.received.items()},
        "member_messages": corp.member_messages,
        "transfers": _rows(corp.transfers),
        "onjob_transfer_history": corp.onjob_transfer_history,
        "group_chats": _rows(corp.group_chats.values()),
        "media": _rows(corp.media.values()),
    }


def _load_rows(cls: type[R], rows: list[list[Any]]) -> list[R]:
    return [cls.from_row(row) for row in rows]


# The two big record kinds are unpacked positionally for speed, in this column order.
CUSTOMER_COLUMNS = ("external_userid", "name", "avatar", "type", "gender", "unionid", "extra")
FOLLOW_COLUMNS = (
    "external_userid",
    "userid",
    "remark",
    "description",
    "remark_corp_name",
    "remark_mobiles",
    "add_way",
    "state",
    "createtime",
    "oper_userid",
    "tag_ids",
)


class _Sharer:
    """Hands out one object per distinct value (JSON gives a new str / int per row), up to
    `limit` distinct values, so a loaded state is as compact as a seeded one."""

    def __init__(self, limit: int = 200_000) -> None:
        self.values: dict[Any, Any] = {}
        self.limit = limit

    def __call__(self, value: Any) -> Any:
        found = self.values.get(value)
        if found is not None:
            return found
        if len(self.values) < self.limit:
            self.values[value] = value
        return value


def _load_customers(corp: Corp, rows: list[list[Any]], share: _Sharer) -> None:
    assert Customer.STORED == CUSTOMER_COLUMNS
    customers = corp.customers
    for external_userid, name, avatar, type_, gender, unionid, extra in rows:
        customers[external_userid] = Customer(
            external_userid, share(name), avatar, type_, gender, unionid, extra
        )


def _load_follows(corp: Corp, rows: list[list[Any]], share: _Sharer) -> None:
    assert Follow.STORED == FOLLOW_COLUMNS
    members, customers = corp.members, corp.customers
    for row in rows:
        (ext, userid, remark, description, corp_name, mobiles, add_way, state, createtime) = row[:9]
        oper_userid, tag_ids = row[9:]
        member, customer = members[userid], customers[ext]
        external_userid = customer.external_userid
        follow = Follow(
            external_userid,
            member.userid,
            share(createtime),
            add_way=add_way,
            state=share(state),
            oper_userid=external_userid if oper_userid == ext else share(oper_userid),
            remark=remark,
            description=description,
            remark_corp_name=corp_name,
            remark_mobiles=tuple(mobiles) if mobiles else EMPTY,
            tag_ids=tuple(share(t) for t in tag_ids) if tag_ids else EMPTY,
        )
        member.follows[external_userid] = follow
        customer.follows = (*customer.follows, follow)


def corp_from_json(data: dict[str, Any]) -> Corp:
    corp = Corp(data["corp_id"], data["name"])
    corp.apps = {app.name: app for app in _load_rows(App, data["apps"])}
    corp.departments = {d.id: d for d in _load_rows(Department, data["departments"])}
    corp.members = {m.userid: m for m in _load_rows(Member, data["members"])}
    share = _Sharer()
    # The big lists are popped so each can be freed as soon as it is turned into records.
    _load_customers(corp, data.pop("customers"), share)
    _load_follows(corp, data.pop("follows"), share)
    corp.tag_groups = {g.group_id: g for g in _load_rows(TagGroup, data["tag_groups"])}
    for tag in _load_rows(Tag, data["tags"]):
        corp.tags[tag.tag_id] = tag
        corp.tag_groups[tag.group_id].tag_ids.append(tag.tag_id)
    corp.contact_ways = {w.config_id: w for w in _load_rows(ContactWay, data["contact_ways"])}
    corp.api_contact_way_count = data["api_contact_way_count"]
    corp.temp_contact_ways_by_day = data["temp_contact_ways_by_day"]
    corp.welcome_codes = {c.code: c for c in _load_rows(WelcomeCode, data["welcome_codes"])}
    corp.templates = {t.msgid: t for t in _load_rows(MsgTemplate, data["templates"])}
    corp.received = {target: _load_rows(Receipt, rows) for target, rows in data["received"].items()}
    corp.member_messages = data["member_messages"]
    corp.transfers = _load_rows(Transfer, data["transfers"])
    corp.reindex_transfers()
    corp.onjob_transfer_history = data["onjob_transfer_history"]
    corp.group_chats = {c.chat_id: c for c in _load_rows(GroupChat, data["group_chats"])}
    corp.media = {m.media_id: m for m in _load_rows(Media, data["media"])}
    return corp


def save(sandbox: Sandbox, path: str | Path) -> dict[str, Any]:
    """Write the state atomically (temp file + rename). Takes the state lock."""
    started = time.perf_counter()
    target = Path(path)
    with sandbox.state.lock:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "saved_at": time.time(),
            "clock_offset": sandbox.clock.offset,
            "quotas": sandbox.quotas.to_json(),
            "tokens": [
                [value, t.corp_id, t.app_name, t.expires_at]
                for value, t in sandbox.state.tokens.items()
            ],
            "corps": [corp_to_json(corp) for corp in sandbox.state.corps.values()],
        }
        # ASCII-only JSON: a str with any non-ASCII character takes 2-4 bytes per character
        # in memory, and a million-customer state is a few hundred MB of text.
        text = json.dumps(document, ensure_ascii=True, separators=(",", ":"))
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(text, encoding="ascii")
    os.replace(temporary, target)
    return {
        "path": str(target),
        "bytes": len(text),
        "seconds": round(time.perf_counter() - started, 3),
    }


def load(sandbox: Sandbox, path: str | Path) -> dict[str, Any]:
    """Replace the whole state with the file's. Takes the state lock."""
    started = time.perf_counter()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        document = json.loads(Path(path).read_bytes())
        if document.get("format") != FORMAT or document.get("version") != VERSION:
            raise ValueError(f"{path} is not a version {VERSION} sandbox state file")
        corps = [corp_from_json(item) for item in document.pop("corps")]
    finally:
        if gc_was_enabled:
            gc.enable()
        gc.freeze()
    with sandbox.state.lock:
        sandbox.state.corps = {corp.corp_id: corp for corp in corps}
        sandbox.state.tokens = {
            value: Token(corp_id, app_name, expires_at)
            for value, corp_id, app_name, expires_at in document["tokens"]
        }
        sandbox.clock.set_offset(document["clock_offset"])
        sandbox.quotas.update(document["quotas"])
    return {
        "path": str(path),
        "corps": len(corps),
        "customers": sum(len(c.customers) for c in corps),
        "seconds": round(time.perf_counter() - started, 3),
    }
