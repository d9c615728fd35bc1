"""Planning freezes the audience into one delivery per customer with one sender each, and
says why every excluded customer is left out."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from broadcast.models import Broadcast, BroadcastSettings, Delivery
from broadcast.planning import BroadcastInputError, broadcast_plan, cap_window
from contacts.models import Customer, Guide, Relation, Store
from tagging.segments import segment_save

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def book(db):
    """amy (store 1) and bob (store 2) active, zed departed.
    c0: amy only; c1: amy (first) then bob (recent); c2: zed only (departed);
    c3: no relation at all; c4: amy, tagged do-not-disturb; c5: bob, already sent this month."""
    with schema_context("alpha"):
        one = Store.objects.create(department_id=1, name="一号店")
        two = Store.objects.create(department_id=2, name="二号店")
        amy = Guide.objects.create(userid="amy", name="Amy", store=one)
        bob = Guide.objects.create(userid="bob", name="Bob", store=two)
        zed = Guide.objects.create(userid="zed", name="Zed", status=Guide.Status.DEPARTED)
        now = timezone.now()
        c = [Customer.objects.create(external_userid=f"wmP{n:03d}") for n in range(6)]

        def hold(guide, customer, days_ago=0, tags=()):
            Relation.objects.create(
                guide=guide,
                customer=customer,
                added_at=now - timedelta(days=days_ago),
                wecom_tag_ids=list(tags),
            )

        hold(amy, c[0])
        hold(amy, c[1], days_ago=30)
        hold(bob, c[1], days_ago=2)
        hold(zed, c[2])
        hold(amy, c[4], tags=["etDND"])
        hold(bob, c[5])
        settings_row = BroadcastSettings.objects.create(do_not_disturb_tag_ids=["etDND"])
        for _n in range(31):  # more than any month allows
            Delivery.objects.create(
                broadcast=Broadcast.objects.create(name="x", audience="customers"),
                customer=c[5],
                target=c[5].external_userid,
                status=Delivery.Status.SENT,
                sent_at=now - timedelta(minutes=1),
            )
        yield {"amy": amy, "bob": bob, "customers": c, "settings": settings_row, "two": two}


def everyone():
    return segment_save(
        segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
    )


def fates(broadcast: Broadcast) -> dict[str, tuple[str, str | None]]:
    return {
        d.target: (d.status, d.sender.userid if d.sender else None)
        for d in broadcast.deliveries.select_related("sender")
    }


def test_every_customer_of_the_segment_gets_one_row_with_one_sender_or_a_reason(book):
    broadcast = Broadcast.objects.create(
        name="双十一", text="早鸟券", audience="segment", segment=everyone()
    )
    planned = broadcast_plan(broadcast_id=broadcast.pk)
    assert planned.status == Broadcast.Status.READY
    assert fates(planned) == {
        "wmP000": ("planned", "amy"),
        "wmP001": ("planned", "bob"),  # the most recent of two guides, never both
        "wmP002": ("no_relation", None),  # only a departed guide holds them
        "wmP003": ("no_relation", None),
        "wmP004": ("dnd", "amy"),
        "wmP005": ("over_cap", "bob"),
    }
    assert planned.counts == {"planned": 2, "no_relation": 2, "dnd": 1, "over_cap": 1}
    assert planned.fingerprint


def test_sender_rules_first_and_store(book):
    first = Broadcast.objects.create(
        name="a", text="t", audience="customers", audience_ids=["wmP001"], sender_rule="first"
    )
    assert fates(broadcast_plan(broadcast_id=first.pk)) == {"wmP001": ("planned", "amy")}
    store = Broadcast.objects.create(
        name="b",
        text="t",
        audience="customers",
        audience_ids=["wmP001", "wmP000"],
        sender_rule="store",
        sender_store=book["two"],
    )
    # bob is the store's guide for wmP001; wmP000 has no guide there: the most recent
    assert fates(broadcast_plan(broadcast_id=store.pk)) == {
        "wmP001": ("planned", "bob"),
        "wmP000": ("planned", "amy"),
    }


def test_planning_twice_is_refused_and_replanning_an_interrupted_plan_starts_over(book):
    broadcast = Broadcast.objects.create(
        name="a", text="t", audience="customers", audience_ids=["wmP000"], status="planning"
    )
    Delivery.objects.create(broadcast=broadcast, target="wmP000")  # half-written by a crash
    broadcast_plan(broadcast_id=broadcast.pk)
    assert broadcast.deliveries.count() == 1
    with pytest.raises(BroadcastInputError, match="already been planned"):
        broadcast_plan(broadcast_id=broadcast.pk)


@pytest.mark.parametrize(
    ("rule", "start", "cap"),
    [
        ("month", datetime(2026, 2, 1, tzinfo=SHANGHAI), 28),
        ("week", datetime(2026, 2, 16, tzinfo=SHANGHAI), 7),  # Monday
        ("day", datetime(2026, 2, 18, tzinfo=SHANGHAI), 1),
    ],
)
def test_wecoms_frequency_windows(rule, start, cap):
    now = datetime(2026, 2, 18, 15, 30, tzinfo=SHANGHAI)
    assert cap_window(rule, now) == (start, cap)


def test_named_recipients_the_brand_does_not_have_are_rows_too(book):
    broadcast = Broadcast.objects.create(
        name="csv", text="t", audience="csv", audience_ids=["wmP000", "wmNOPE"]
    )
    assert fates(broadcast_plan(broadcast_id=broadcast.pk)) == {
        "wmP000": ("planned", "amy"),
        "wmNOPE": ("not_customer", None),
    }


def test_a_plan_that_cannot_be_made_fails_with_the_reason(book):
    from django.db import connection

    from broadcast.tasks import broadcast_plan_task

    segment = everyone()
    broadcast = Broadcast.objects.create(
        name="x", text="t", audience="segment", segment=segment, status="planning"
    )
    segment.delete()
    assert broadcast_plan_task(tenant_schema="alpha", broadcast_id=broadcast.pk) == "failed"
    connection.set_schema("alpha")
    broadcast.refresh_from_db()
    assert broadcast.error == "the segment was deleted"


def test_attachments_are_checked_by_the_service_itself(book):
    from broadcast.services import BroadcastData, broadcast_create

    with pytest.raises(BroadcastInputError):
        broadcast_create(
            data=BroadcastData(
                name="附件检查",
                text="t",
                audience="customers",
                audience_ids=["wmP000"],
                attachments=[{"msgtype": "image", "media": 999999}],
            )
        )
    assert not Broadcast.objects.filter(name="附件检查").exists()
