"""Allocation: even among takers (counts differ by at most one), never a departed or full
taker, the guide's own store, a CSV mapping, the 90-day rule; a preview writes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from hypothesis import given
from hypothesis import strategies as st

from contacts.models import Customer, GroupChat, Guide, Relation, Store
from handover.allocation import (
    NO_STORE_GUIDE,
    NO_TAKER,
    HandoverInputError,
    allocation_plan,
    spread_evenly,
)
from handover.models import Handover, TransferItem

S = TransferItem.Status


@given(
    count=st.integers(min_value=0, max_value=300),
    rooms=st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=80)), max_size=8),
)
def test_spread_evenly_differs_by_at_most_one_and_respects_room(count, rooms):
    result = spread_evenly(count, rooms)
    given_to = [result.count(index) for index in range(len(rooms))]
    for index, room in enumerate(rooms):
        assert room is None or given_to[index] <= room
    # takers that never ran out of room are within one of each other and of the fullest
    open_takers = [
        given_to[i] for i, room in enumerate(rooms) if room is None or given_to[i] < room
    ]
    if open_takers:
        assert max(open_takers) - min(open_takers) <= 1
        assert all(n <= min(open_takers) + 1 for n in given_to)
    total_room = sum(room for room in rooms if room is not None)
    unlimited = any(room is None for room in rooms)
    expected = count if unlimited else min(count, total_room)
    assert sum(given_to) == expected
    assert result.count(None) == count - expected


@pytest.fixture
def book(db):
    """Store 1: departed amy (50 customers, a chat), bob, cat, dan, gone ex-guide zed, and
    full fay (already 10 customers); store 2: eve."""
    with schema_context("alpha"):
        one = Store.objects.create(department_id=1, name="一号店")
        two = Store.objects.create(department_id=2, name="二号店")
        guides = {
            userid: Guide.objects.create(userid=userid, name=userid, store=store)
            for userid, store in (
                ("amy", one),
                ("bob", one),
                ("cat", one),
                ("dan", one),
                ("zed", one),
                ("fay", one),
                ("eve", two),
            )
        }
        for userid in ("amy", "zed"):
            guides[userid].status = Guide.Status.DEPARTED
            guides[userid].save()
        now = timezone.now()
        for n in range(60):
            customer = Customer.objects.create(external_userid=f"wmA{n:04d}", name=f"c{n}")
            guide = guides["amy"] if n < 50 else guides["fay"]
            Relation.objects.create(guide=guide, customer=customer, added_at=now)
        GroupChat.objects.create(chat_id="wrAMY", name="群", owner=guides["amy"])
        yield guides


def received(plan) -> dict[str, int]:
    counts = {load.guide.userid: load.customers for load in plan.takers.values()}
    return {userid: n for userid, n in counts.items() if n}


def test_evenly_in_the_store_never_a_departed_nor_a_full_guide(book):
    plan = allocation_plan(
        from_guides=[book["amy"]], mode=Handover.Mode.EVEN_STORE, max_per_guide=10
    )
    assert plan.kind == Handover.Kind.RESIGNED
    # fay already holds 10 (the maximum), zed left, eve is in another store
    assert received(plan) == {"bob": 10, "cat": 10, "dan": 10}
    unallocated = [i for i in plan.items if i.status == S.UNALLOCATED]
    assert len(unallocated) == 20
    assert {i.error for i in unallocated} == {NO_TAKER}
    chat = next(i for i in plan.items if i.target == TransferItem.Target.CHAT)
    assert chat.to_guide_id in {book["bob"].pk, book["cat"].pk, book["dan"].pk}
    assert not TransferItem.objects.exists()  # a preview writes nothing


def test_without_a_maximum_the_counts_differ_by_at_most_one(book):
    plan = allocation_plan(
        from_guides=[book["amy"]],
        mode=Handover.Mode.EVEN_LIST,
        takers=[book["bob"], book["cat"], book["dan"], book["eve"]],
    )
    counts = sorted(received(plan).values())
    assert counts == [12, 12, 13, 13]


def test_named_takers_who_left_or_are_handed_over_are_refused(book):
    with pytest.raises(HandoverInputError, match="has left"):
        allocation_plan(from_guides=[book["amy"]], mode=Handover.Mode.ONE, takers=[book["zed"]])
    with pytest.raises(HandoverInputError, match="exactly one"):
        allocation_plan(
            from_guides=[book["amy"]], mode=Handover.Mode.ONE, takers=[book["bob"], book["cat"]]
        )
    with pytest.raises(HandoverInputError, match="separately"):
        allocation_plan(
            from_guides=[book["amy"], book["bob"]], mode=Handover.Mode.ONE, takers=[book["cat"]]
        )


def test_a_guide_without_a_store_colleague_is_left_unallocated(book):
    eve = book["eve"]
    eve.status = Guide.Status.DEPARTED
    eve.save()
    Relation.objects.create(
        guide=eve,
        customer=Customer.objects.create(external_userid="wmEVE0001"),
        added_at=timezone.now(),
    )
    plan = allocation_plan(from_guides=[eve], mode=Handover.Mode.EVEN_STORE)
    assert [(i.status, i.error) for i in plan.items] == [(S.UNALLOCATED, NO_STORE_GUIDE)]


def test_a_csv_mapping_assigns_each_customer_and_reports_bad_lines(book):
    data = (
        "external_userid,takeover_userid\n"
        "wmA0000,bob\n"
        "wmA0001,cat\n"
        "wmA0002,zed\n"  # departed
        "wmA0055,bob\n"  # fay's customer, not amy's
        "wmNOPE,bob\n"
        "wmA0000,dan\n"  # named twice
    ).encode("gbk")
    plan = allocation_plan(from_guides=[book["amy"]], mode=Handover.Mode.CSV, csv_data=data)
    by_id = {i.external_id: i for i in plan.items}
    assert by_id["wmA0000"].to_guide_id == book["bob"].pk
    assert by_id["wmA0001"].to_guide_id == book["cat"].pk
    assert by_id["wmA0002"].status == S.UNALLOCATED
    reasons = sorted(p.reason for p in plan.csv_problems)
    assert reasons == [
        "customer named twice",
        "no customer with this external_userid",
        "not a customer of the guides handed over",
        "this guide cannot take over (departed, handed over or out of range)",
    ]


def test_customers_moved_on_duty_twice_in_90_days_are_skipped(book):
    bob = book["bob"]
    customer = Customer.objects.create(external_userid="wmMOVED")
    Relation.objects.create(guide=bob, customer=customer, added_at=timezone.now())
    for days_ago in (10, 80):
        old = Handover.objects.create(
            kind=Handover.Kind.ON_DUTY, trigger="operator", status=Handover.Status.DONE
        )
        TransferItem.objects.create(
            handover=old,
            customer=customer,
            external_id="wmMOVED",
            from_guide=book["cat"],
            to_guide=bob,
            status=S.ACCEPTED,
            sent_at=timezone.now() - timedelta(days=days_ago),
        )
    plan = allocation_plan(from_guides=[bob], mode=Handover.Mode.ONE, takers=[book["dan"]])
    [item] = plan.items
    assert item.status == S.SKIPPED
    assert item.to_guide_id is None
    assert received(plan) == {}


def test_customers_on_their_way_to_a_taker_count_towards_the_maximum(book):
    from handover.services import handover_start

    # a first handover gives bob 8 of amy's customers...
    Relation.objects.filter(guide=book["amy"], customer__external_userid__gte="wmA0008").update(
        status=Relation.Status.DELETED_BY_CUSTOMER
    )
    with_eight = handover_start(
        from_guides=[book["amy"]], mode=Handover.Mode.ONE, takers=[book["bob"]], include_chats=False
    )
    assert with_eight.items.filter(status=S.PENDING).count() == 8
    # ...so while they are on their way, a second one sees bob with 8 of a maximum of 10
    cat = book["cat"]
    cat.status = Guide.Status.DEPARTED
    cat.save()
    for n in range(5):
        customer = Customer.objects.create(external_userid=f"wmCAT{n}")
        Relation.objects.create(guide=cat, customer=customer, added_at=timezone.now())
    plan = allocation_plan(
        from_guides=[cat], mode=Handover.Mode.ONE, takers=[book["bob"]], max_per_guide=10
    )
    assert received(plan) == {"bob": 2}
    assert [i.status for i in plan.items].count(S.UNALLOCATED) == 3


def test_csv_problems_carry_their_line_numbers(book):
    data = b"wmA0000,bob\nwmNOPE,bob\n\nwmA0001,zed\n"
    plan = allocation_plan(from_guides=[book["amy"]], mode=Handover.Mode.CSV, csv_data=data)
    assert [(p.line, p.value) for p in plan.csv_problems] == [(2, "wmNOPE,bob"), (4, "wmA0001,zed")]


def test_a_departed_guide_who_only_owns_chats_is_in_the_queue(book):
    from handover.services import departed_guides_queue

    zed = book["zed"]
    GroupChat.objects.create(chat_id="wrZED", name="zed 的群", owner=zed)
    queue = {g.userid: (g.at_risk, g.chats_owned) for g in departed_guides_queue()}
    assert queue == {"amy": (50, 1), "zed": (0, 1)}
