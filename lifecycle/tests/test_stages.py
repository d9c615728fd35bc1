"""The stage rules: every stage reachable, the precedence, thresholds that change the
outcome, `since`, the daily counts, and the preview."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from contacts.models import CustomerEvent, Relation
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory
from lifecycle.models import CustomerStage, LifecycleSettings, StageCount
from lifecycle.services import lifecycle_settings
from lifecycle.stages import Rules, customer_stages_recompute, stage_counts_preview
from orders.models import CustomEvent, Order

_orders = itertools.count(1)


@pytest.fixture
def alpha(db, tenant_a):
    with schema_context("alpha"):
        yield


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def customer(*, added_days_ago: float = 100, active: bool = True, guides: int = 1):
    """A customer first added `added_days_ago` days ago (by `guides` guides)."""
    person = CustomerFactory()
    for n in range(guides):
        RelationFactory(
            customer=person,
            guide=GuideFactory(),
            added_at=ago(added_days_ago - n),
            status=Relation.Status.ACTIVE if active else Relation.Status.DELETED_BY_CUSTOMER,
            deleted_at=None if active else ago(3),
        )
    return person


def order(person, *, days_ago: float, status: str = Order.Status.PAID) -> Order:
    return Order.objects.create(
        customer=person,
        order_id=f"SO{next(_orders)}",
        amount=Decimal("99.00"),
        paid_at=ago(days_ago),
        status=status,
    )


def interaction(person, *, days_ago: float, kind: str = CustomerEvent.Kind.NOTE) -> None:
    CustomerEvent.objects.create(customer=person, kind=kind, occurred_at=ago(days_ago))


def stage_of(person) -> str:
    return CustomerStage.objects.get(customer=person).stage


def test_every_stage_is_reachable(alpha):
    # given one customer for each rule (defaults: new 7 days, engaged 30, orders 180)
    new = customer(added_days_ago=2)
    engaged = customer(added_days_ago=100)
    interaction(engaged, days_ago=5)
    first = customer()
    order(first, days_ago=20)
    repeat = customer()
    order(repeat, days_ago=20)
    order(repeat, days_ago=100)
    dormant = customer(added_days_ago=100)
    lost = customer(active=False)

    result = customer_stages_recompute()

    assert {
        stage_of(person): person for person in (new, engaged, first, repeat, dormant, lost)
    } == {
        "new": new,
        "engaged": engaged,
        "first_order": first,
        "repeat": repeat,
        "dormant": dormant,
        "lost": lost,
    }
    assert result.changed == 6
    assert result.counts == dict.fromkeys(result.counts, 1)


def test_the_first_rule_that_holds_wins(alpha):
    # lost beats everything: two recent orders but no guide left
    gone = customer(active=False, added_days_ago=1)
    order(gone, days_ago=1)
    order(gone, days_ago=2)
    # repeat beats engaged and new
    buyer = customer(added_days_ago=1)
    interaction(buyer, days_ago=1)
    order(buyer, days_ago=1)
    order(buyer, days_ago=2)
    # first order beats engaged
    once = customer(added_days_ago=50)
    interaction(once, days_ago=1)
    order(once, days_ago=3)
    # engaged beats new
    chatty = customer(added_days_ago=1)
    interaction(chatty, days_ago=0.5, kind=CustomerEvent.Kind.MESSAGE)
    # one guide of two deleted: still a friend
    half = customer(added_days_ago=3, guides=2)
    Relation.objects.filter(pk=Relation.objects.filter(customer=half).order_by("id")[0].pk).update(
        status=Relation.Status.DELETED_BY_CUSTOMER, deleted_at=ago(1)
    )

    customer_stages_recompute()

    assert stage_of(gone) == "lost"
    assert stage_of(buyer) == "repeat"
    assert stage_of(once) == "first_order"
    assert stage_of(chatty) == "engaged"
    assert stage_of(half) == "new"


def test_what_does_not_count(alpha):
    # a refunded order, an order older than the window, an interaction older than the
    # window, an order of someone else, and an add or deletion on the timeline
    refunded = customer()
    order(refunded, days_ago=10, status=Order.Status.REFUNDED)
    stale = customer()
    order(stale, days_ago=200)
    order(stale, days_ago=300)
    quiet = customer()
    interaction(quiet, days_ago=31)
    CustomerEvent.objects.create(customer=quiet, kind=CustomerEvent.Kind.ADDED, occurred_at=ago(1))
    order(None, days_ago=1)  # not matched to a customer

    customer_stages_recompute()

    assert [stage_of(p) for p in (refunded, stale, quiet)] == ["dormant"] * 3


def test_custom_events_and_tag_changes_are_interactions(alpha):
    pushed = customer()
    CustomEvent.objects.create(customer=pushed, type="coupon_used", occurred_at=ago(2))
    tagged = customer()
    interaction(tagged, days_ago=2, kind=CustomerEvent.Kind.TAGGED)

    customer_stages_recompute()

    assert stage_of(pushed) == stage_of(tagged) == "engaged"


def test_tuned_thresholds_change_the_stages(alpha):
    # given a customer added 20 days ago with a custom event 40 days ago, and one with
    # orders 100 and 250 days ago
    person = customer(added_days_ago=20)
    CustomEvent.objects.create(customer=person, type="mall_visit", occurred_at=ago(40))
    buyer = customer()
    order(buyer, days_ago=100)
    order(buyer, days_ago=250)
    customer_stages_recompute()
    assert (stage_of(person), stage_of(buyer)) == ("dormant", "first_order")

    options = lifecycle_settings()
    options.new_days = 30
    options.save()
    customer_stages_recompute()
    assert stage_of(person) == "new"

    options.engaged_days = 45
    options.order_days = 365
    options.save()
    customer_stages_recompute()
    assert (stage_of(person), stage_of(buyer)) == ("engaged", "repeat")

    options.order_days = 60
    options.save()
    customer_stages_recompute()
    assert stage_of(buyer) == "dormant"


def test_since_tells_when_the_stage_began(alpha):
    person = customer(added_days_ago=3)
    leaver = customer(active=False)
    customer_stages_recompute()
    first = CustomerStage.objects.get(customer=person)
    # a new customer's stage began with the first add; a lost one's with the last deletion
    assert abs(first.since - Relation.objects.get(customer=person).added_at) < timedelta(seconds=1)
    assert abs(CustomerStage.objects.get(customer=leaver).since - ago(3)) < timedelta(minutes=1)

    # unchanged: the row is left alone
    again = customer_stages_recompute()
    assert again.changed == 0
    assert CustomerStage.objects.get(customer=person).since == first.since

    # the customer orders: a new stage, dated by the recomputation that saw it
    order(person, days_ago=0.1)
    later = timezone.now() + timedelta(minutes=5)
    assert customer_stages_recompute(now=later).changed == 1
    row = CustomerStage.objects.get(customer=person)
    assert (row.stage, row.since) == ("first_order", later)


def test_counts_are_kept_per_day(alpha):
    customer(added_days_ago=2)
    customer(added_days_ago=100)
    today = timezone.localdate()

    customer_stages_recompute(now=timezone.now() - timedelta(days=1))
    customer_stages_recompute()
    customer(added_days_ago=1)
    customer_stages_recompute()  # the day's last count wins

    counts = {(row.day, row.stage): row.count for row in StageCount.objects.filter(count__gt=0)}
    assert counts == {
        (today - timedelta(days=1), "new"): 1,
        (today - timedelta(days=1), "dormant"): 1,
        (today, "new"): 2,
        (today, "dormant"): 1,
    }
    # every stage has a row each day, zeros included
    assert StageCount.objects.filter(day=today).count() == 6
    settings_row = LifecycleSettings.objects.get()
    assert settings_row.recomputed_at is not None
    assert settings_row.recompute_changed == 1


def test_the_preview_counts_without_writing(alpha):
    person = customer(added_days_ago=20)
    customer(added_days_ago=2)
    customer_stages_recompute()

    preview = stage_counts_preview(Rules(new_days=30, engaged_days=30, order_days=180))

    assert preview is not None
    assert (preview["new"], preview["dormant"]) == (2, 0)
    assert stage_of(person) == "dormant"
    assert CustomerStage.objects.filter(stage="new").count() == 1
