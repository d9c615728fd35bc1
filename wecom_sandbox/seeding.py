"""Bulk seeding: many members and customers fast, and small in memory.

A million customers with one follow each take a few seconds and a few hundred MB: ids come
from one urandom call, names from a shared pool, createtimes from a pool of day stamps,
and the garbage collector is paused while the objects are built (then frozen, so later
collections do not rescan them).
"""

import gc
import itertools
import random
import time
from typing import Any

from wecom_sandbox import identifiers
from wecom_sandbox.records import EMPTY, Customer, Department, Follow, Member
from wecom_sandbox.state import Corp

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红玲兰飞鹏辉"
DAY = 24 * 3600


def _name_pool() -> list[str]:
    return [s + g + h for s, g, h in itertools.product(SURNAMES, GIVEN, "晨宇欣然")]


def seed(
    corp: Corp,
    *,
    now: int,
    members: int = 0,
    departments: int = 0,
    customers: int = 0,
    follows_per_customer: int = 1,
    member_prefix: str = "guide",
    states: list[str] | None = None,
    days: int = 365,
    random_seed: int | None = None,
) -> dict[str, Any]:
    """Add `departments` departments under the root, `members` members spread over them
    (userids `<prefix>00001`...), and `customers` customers spread round-robin over the
    corp's active customer-contact members, each followed by `follows_per_customer` of them.
    No callbacks are sent. Caller holds the state lock."""
    started = time.perf_counter()
    rng = random.Random(random_seed)  # noqa: S311 - test data
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        department_ids = _seed_departments(corp, departments)
        new_members = _seed_members(corp, members, department_ids, member_prefix, now)
        followers = [m for m in corp.members.values() if m.active and m.customer_contact]
        if customers and not followers:
            raise ValueError("no active customer-contact member to follow the customers")
        if follows_per_customer < 1 or (customers and follows_per_customer > len(followers)):
            raise ValueError("follows_per_customer must be between 1 and the number of members")
        _seed_customers(
            corp, customers, followers, follows_per_customer, states or [""], days, now, rng
        )
    finally:
        if gc_was_enabled:
            gc.enable()
        gc.freeze()
    return {
        "departments": len(department_ids),
        "members": len(new_members),
        "first_userids": [m.userid for m in new_members[:10]],
        "customers": customers,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _seed_departments(corp: Corp, count: int) -> list[int]:
    first = max(corp.departments) + 1
    ids = list(range(first, first + count))
    for index, department_id in enumerate(ids):
        corp.departments[department_id] = Department(
            department_id, f"门店{index + 1:04d}", 1, 1000 - index
        )
    return ids


def _seed_members(
    corp: Corp, count: int, department_ids: list[int], prefix: str, now: int
) -> list[Member]:
    width = max(5, len(str(count)))
    names = _name_pool()
    homes = [(d,) for d in department_ids] or [(1,)]
    created = []
    for index in range(1, count + 1):
        userid = f"{prefix}{index:0{width}d}"
        if userid in corp.members:
            raise ValueError(f"member {userid!r} exists; use another member_prefix")
        member = Member(
            userid, names[index % len(names)], homes[index % len(homes)], created_at=now
        )
        corp.members[userid] = member
        created.append(member)
    return created


def _seed_customers(
    corp: Corp,
    count: int,
    followers: list[Member],
    per_customer: int,
    states: list[str],
    days: int,
    now: int,
    rng: random.Random,
) -> None:
    names = _name_pool()
    day_stamps = [now - d * DAY - 60 for d in range(max(1, days))]
    genders = (0, 1, 2)
    n_followers = len(followers)
    customers = corp.customers
    for index, external_userid in enumerate(identifiers.external_userids(count)):
        customer = Customer(
            external_userid, names[rng.randrange(len(names))], None, 1, genders[index % 3]
        )
        follows = []
        for k in range(per_customer):
            member = followers[(index + k) % n_followers]
            follow = Follow(
                external_userid,
                member.userid,
                day_stamps[index % len(day_stamps)],
                add_way=1,
                state=states[index % len(states)],
                oper_userid=external_userid,
            )
            member.follows[external_userid] = follow
            follows.append(follow)
        customer.follows = tuple(follows) if follows else EMPTY
        customers[external_userid] = customer
