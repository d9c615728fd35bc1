"""An erased customer keeps their place in the counts, but nothing may reach them any more:
they are in no segment, no group send plans a message to them and no handover tries to
transfer them (their WeCom id is gone; WeCom would refuse the opaque one)."""

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from broadcast.models import Broadcast
from broadcast.planning import broadcast_plan
from contacts.models import Customer, Guide, Relation, Store
from contacts.selectors import CustomerFilters, customer_list
from handover.allocation import allocation_plan
from handover.models import Handover
from privacy.erasure import customers_erase
from tagging.segments import segment_count, segment_customers, segment_save

EVERYONE = {"op": "and", "rules": []}


@pytest.fixture
def shop(db):
    """amy (departed) and bob in one store; amy holds three customers, one of them erased."""
    with schema_context("alpha"):
        store = Store.objects.create(department_id=1, name="一号店")
        amy = Guide.objects.create(userid="amy", name="Amy", store=store)
        bob = Guide.objects.create(userid="bob", name="Bob", store=store)
        customers = [Customer.objects.create(external_userid=f"wmE{n:03d}") for n in range(3)]
        for customer in customers:
            Relation.objects.create(guide=amy, customer=customer, added_at=timezone.now())
        customers_erase(customer_ids=[customers[2].pk])
        customers[2].refresh_from_db()
        yield {"amy": amy, "bob": bob, "customers": customers}


def test_an_erased_customer_is_in_no_segment(shop):
    assert set(segment_customers(EVERYONE).values_list("external_userid", flat=True)) == {
        "wmE000",
        "wmE001",
    }
    assert segment_count(EVERYONE) == 2
    assert Customer.objects.count() == 3  # still counted where counts are kept


def test_the_customers_list_of_a_segment_agrees_with_its_count(shop):
    segment = segment_save(segment=None, actor=None, name="全部", definition=EVERYONE)

    listed = customer_list(CustomerFilters(segment_id=segment.pk))

    assert sorted(c.external_userid for c in listed) == ["wmE000", "wmE001"]
    assert segment.last_count == 2
    assert customer_list().count() == 3  # unfiltered, the anonymous row is still listed


def test_no_group_send_plans_a_message_to_an_erased_customer(shop):
    segment = segment_save(segment=None, actor=None, name="全部", definition=EVERYONE)
    by_segment = Broadcast.objects.create(
        name="双十一", text="早鸟券", audience="segment", segment=segment
    )
    erased_id = shop["customers"][2].external_userid
    by_ids = Broadcast.objects.create(
        name="名单", text="t", audience="customers", audience_ids=["wmE000", erased_id]
    )

    assert set(
        broadcast_plan(broadcast_id=by_segment.pk).deliveries.values_list("target", flat=True)
    ) == {"wmE000", "wmE001"}
    # named by its opaque id (as the API lists it), the erased customer is no customer to send to
    fates = dict(broadcast_plan(broadcast_id=by_ids.pk).deliveries.values_list("target", "status"))
    assert fates == {"wmE000": "planned", erased_id: "not_customer"}


def test_a_handover_does_not_try_to_transfer_an_erased_customer(shop):
    shop["amy"].status = Guide.Status.DEPARTED
    shop["amy"].save()

    plan = allocation_plan(from_guides=[shop["amy"]], mode=Handover.Mode.ONE, takers=[shop["bob"]])

    assert sorted(item.external_id for item in plan.items) == ["wmE000", "wmE001"]
