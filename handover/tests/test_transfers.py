"""Handovers against the sandbox: a departed member's customers and group chat reach the
takeover guides after WeCom's 24 hours; refusals, the 90-day rule and a full taker."""

import pytest
from django.db.models import Count
from django_tenants.utils import schema_context

from contacts.models import CustomerEvent, GroupChat, Guide, Relation
from handover.models import Handover, TransferItem
from handover.services import (
    handover_cancel,
    handover_start,
    items_reallocate,
    unassigned_check,
)
from handover.tests.helpers import (
    CORP_ID,
    DAY,
    followers,
    last_callback_id,
    replay_callbacks,
    setup_corp,
    transfers_of,
)
from handover.transfer import handover_poll, handover_send

S = TransferItem.Status


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


def statuses(handover: Handover) -> dict[str, str]:
    return dict(handover.items.values_list("external_id", "status"))


def after_a_day(control, handover: Handover) -> str:
    control.advance_clock(DAY + 60)
    return handover_poll(handover_id=handover.pk)


def test_a_member_deleted_in_wecom_is_handed_over_to_the_guides_of_the_store(guides, wecom_sandbox):
    control = wecom_sandbox.control
    since = last_callback_id(control)
    control.member_leaves(CORP_ID, "amy")
    assert "delete_user" in replay_callbacks(control, since)

    amy = Guide.objects.get(userid="amy")
    assert amy.status == Guide.Status.DEPARTED
    proposal = Handover.objects.get(status=Handover.Status.PROPOSED)
    assert list(proposal.from_guides.all()) == [amy]
    assert proposal.trigger == Handover.Trigger.CALLBACK

    handover = handover_start(
        from_guides=[amy], mode=Handover.Mode.EVEN_STORE, proposal=proposal, actor=None
    )
    assert handover.pk == proposal.pk
    assert handover.kind == Handover.Kind.RESIGNED
    taken = dict(
        handover.items.filter(target=TransferItem.Target.CUSTOMER)
        .values_list("to_guide__userid")
        .annotate(n=Count("id"))
    )
    assert taken == {"bob": 2, "cat": 2, "dan": 2}  # evenly; never eve of the other store

    assert handover_send(handover_id=handover.pk) == Handover.Status.WAITING
    assert set(statuses(handover).values()) == {S.WAITING, S.ACCEPTED}
    # the group chat moves at once, in WeCom and here
    chat = GroupChat.objects.get(chat_id="wrCHATAMY001")
    assert chat.owner is not None
    assert chat.owner.userid in {"bob", "cat", "dan"}
    assert transfers_of(control, "wmH0000")[0]["kind"] == "resigned"

    # WeCom's 24 hours pass on the sandbox's clock: every customer is with a taker
    since = last_callback_id(control)
    assert after_a_day(control, handover) == Handover.Status.DONE
    for item in handover.items.filter(target=TransferItem.Target.CUSTOMER).select_related(
        "to_guide"
    ):
        assert item.status == S.ACCEPTED
        assert item.to_guide is not None
        assert followers(control, item.external_id) == [item.to_guide.userid]
        relations = dict(
            Relation.objects.filter(customer=item.customer).values_list("guide__userid", "status")
        )
        assert relations == {"amy": "transferred", item.to_guide.userid: "active"}
        new = Relation.objects.get(customer=item.customer, guide=item.to_guide)
        old = Relation.objects.get(customer=item.customer, guide__userid="amy")
        assert (new.remark, new.remark_mobiles) == (old.remark, old.remark_mobiles)
        sides = CustomerEvent.objects.filter(
            customer=item.customer, kind=CustomerEvent.Kind.TRANSFERRED
        )
        assert {e.guide.userid for e in sides if e.guide} == {"amy", item.to_guide.userid}
    # the takers are told which customers they received, once
    for userid in ("bob", "cat", "dan"):
        told = [m for m in control.member_messages(CORP_ID, userid) if "客户继承" in str(m)]
        assert len(told) == 1, told
    # WeCom's own add events for the takers change nothing more
    replay_callbacks(control, since)
    assert Relation.objects.filter(guide__userid="amy", status="active").count() == 0
    assert Relation.objects.filter(status="active").count() == 8


def test_a_customer_who_refuses_a_resigned_transfer_is_reported_lost(guides, wecom_sandbox):
    control = wecom_sandbox.control
    control.member_leaves(CORP_ID, "amy")
    Guide.objects.filter(userid="amy").update(status=Guide.Status.DEPARTED)
    handover = handover_start(
        from_guides=[Guide.objects.get(userid="amy")],
        mode=Handover.Mode.ONE,
        takers=[guides["bob"]],
        include_chats=False,
    )
    handover_send(handover_id=handover.pk)
    control.decide_transfer(CORP_ID, "wmH0003", "refuse")

    assert after_a_day(control, handover) == Handover.Status.DONE
    result = statuses(handover)
    assert result.pop("wmH0003") == S.LOST
    assert set(result.values()) == {S.ACCEPTED}
    assert followers(control, "wmH0003") == []
    lost = Relation.objects.get(customer__external_userid="wmH0003")
    assert lost.status == Relation.Status.DELETED_BY_CUSTOMER


def test_a_customer_who_refuses_an_on_duty_move_stays_with_the_guide(guides, wecom_sandbox):
    control = wecom_sandbox.control
    bob = guides["bob"]
    handover = handover_start(
        from_guides=[bob],
        mode=Handover.Mode.ONE,
        takers=[guides["cat"]],
        message="您好，我调去新店了，之后由同事小猫为您服务",
    )
    assert handover.kind == Handover.Kind.ON_DUTY
    handover_send(handover_id=handover.pk)
    control.decide_transfer(CORP_ID, "wmB0000", "refuse")

    assert after_a_day(control, handover) == Handover.Status.DONE
    assert statuses(handover) == {"wmB0000": S.REFUSED, "wmB0001": S.ACCEPTED}
    assert followers(control, "wmB0000") == ["bob"]
    assert Relation.objects.get(customer__external_userid="wmB0000").guide == bob
    assert Relation.objects.get(customer__external_userid="wmB0000").status == "active"
    # the customer who accepted got the operator's message
    received = control.received(CORP_ID, "wmB0001")
    assert "之后由同事小猫为您服务" in str(received)


def test_a_customer_moved_twice_on_duty_in_90_days_is_not_sent(guides, wecom_sandbox):
    control = wecom_sandbox.control
    route = [("bob", "cat"), ("cat", "dan")]
    for giver, taker in route:
        handover = handover_start(
            from_guides=[Guide.objects.get(userid=giver)],
            mode=Handover.Mode.ONE,
            takers=[Guide.objects.get(userid=taker)],
        )
        handover_send(handover_id=handover.pk)
        assert after_a_day(control, handover) == Handover.Status.DONE
    assert followers(control, "wmB0000") == ["dan"]

    third = handover_start(
        from_guides=[guides["dan"]], mode=Handover.Mode.ONE, takers=[guides["eve"]]
    )
    assert statuses(third) == {"wmB0000": S.SKIPPED, "wmB0001": S.SKIPPED}
    item = third.items.get(external_id="wmB0000")
    assert item.error == "already transferred twice in 90 days"
    handover_send(handover_id=third.pk)
    assert len(transfers_of(control, "wmB0000")) == 2  # never sent a third time
    assert followers(control, "wmB0000") == ["dan"]


def test_a_full_taker_leaves_items_that_go_to_another_guide_in_one_action(guides, wecom_sandbox):
    control = wecom_sandbox.control
    control.member_leaves(CORP_ID, "amy")
    amy = Guide.objects.get(userid="amy")
    amy.status = Guide.Status.DEPARTED
    amy.save()
    handover = handover_start(
        from_guides=[amy], mode=Handover.Mode.ONE, takers=[guides["bob"]], include_chats=False
    )
    handover_send(handover_id=handover.pk)
    for external_userid in ("wmH0001", "wmH0002"):
        control.decide_transfer(CORP_ID, external_userid, "limit")
    handover_poll(handover_id=handover.pk)
    full = sorted(k for k, v in statuses(handover).items() if v == S.TAKER_FULL)
    assert full == ["wmH0001", "wmH0002"]

    assert items_reallocate(handover=handover, takers=[guides["cat"]]) == 2
    handover_send(handover_id=handover.pk)
    assert after_a_day(control, handover) == Handover.Status.DONE
    assert followers(control, "wmH0001") == ["cat"]
    assert followers(control, "wmH0003") == ["bob"]
    item = handover.items.get(external_id="wmH0002")
    assert item.status == S.ACCEPTED
    assert item.history[0]["status"] == S.TAKER_FULL


def test_departed_members_missed_by_callbacks_are_found_in_wecoms_unassigned_list(
    guides, wecom_sandbox
):
    wecom_sandbox.control.member_leaves(CORP_ID, "amy")  # the callback never arrives
    assert Guide.objects.get(userid="amy").status == Guide.Status.ACTIVE

    assert unassigned_check() == {"members": 1, "marked_departed": 1, "proposed": 1}
    assert Guide.objects.get(userid="amy").status == Guide.Status.DEPARTED
    proposal = Handover.objects.get()
    assert proposal.trigger == Handover.Trigger.UNASSIGNED
    # a second check proposes nothing more
    assert unassigned_check()["proposed"] == 0


def test_a_cancelled_handover_sends_nothing_more(guides, wecom_sandbox):
    handover = handover_start(
        from_guides=[guides["bob"]], mode=Handover.Mode.ONE, takers=[guides["cat"]]
    )
    assert handover_cancel(handover=handover) == 2
    handover.refresh_from_db()
    assert handover.status == Handover.Status.CANCELLED
    assert set(statuses(handover).values()) == {S.CANCELLED}
    assert transfers_of(wecom_sandbox.control, "wmB0000") == []
