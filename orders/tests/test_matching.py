"""Matching orders and events to customers: the keys, and late matching of the ones that
came before their customer (on the add callback, periodically, nightly)."""

from datetime import timedelta

import pytest
from django_tenants.utils import schema_context

from contacts.models import Customer, CustomerEvent, Relation
from contacts.phones import phone_normalise
from contacts.services import relation_remark_update
from contacts.tests.factories import CustomerEventFactory, CustomerFactory, RelationFactory
from contacts.tests.test_callbacks import CORP_ID, corp, deliver
from orders.matching import Keys, matches_resolve
from orders.models import CustomEvent, MatchState, Order
from orders.services import rematch_all, rematch_recent
from orders.tests.helpers import ago, push_event, push_order, timeline_kinds

__all__ = ["corp"]  # the contact book's sandbox corp, with guide amy (a fixture)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("(021) 6234-5678", "02162345678"),
        ("+1 415 555 0100", "+14155550100"),
        ("call me", ""),
        ("123", ""),
        ("", ""),
    ],
)
def test_phone_normalise(raw, normalised):
    assert phone_normalise(raw) == normalised


def test_keys_are_tried_external_userid_then_unionid_then_phone(db):
    with schema_context("alpha"):
        by_id = CustomerFactory(external_userid="wmA")
        by_union = CustomerFactory(unionid="oB")
        by_phone = CustomerFactory()
        RelationFactory(customer=by_phone, remark_mobiles=["13900000000"])

        keys = [
            Keys("wmA", "oB", "13900000000"),
            Keys("wmNONE", "oB", "13900000000"),
            Keys("wmNONE", "oNONE", "13900000000"),
            Keys("wmNONE"),
        ]
        found = matches_resolve(keys)

    assert [(found[k].customer_id, found[k].matched_by) for k in keys] == [
        (by_id.pk, "external_userid"),
        (by_union.pk, "unionid"),
        (by_phone.pk, "phone"),
        (None, "none"),
    ]


# --- late matching -------------------------------------------------------------------------


def test_an_order_is_matched_when_its_customer_is_added_later(client_a, write_key, corp):
    # given an order and an event pushed before the customer added a guide
    order = push_order(client_a, write_key, order_id="LATE-1", external_userid="wmLATE0001")
    event = push_event(client_a, write_key, type="member_joined", external_userid="wmLATE0001")
    assert order.json()["customer"] is None

    # when the customer adds Amy (WeCom calls back)
    corp.add_customer(
        CORP_ID, external_userid="wmLATE0001", name="周女士", follows=[{"userid": "amy"}]
    )
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmLATE0001")

        # then both are matched, and on the customer's timeline after the add
        customer = Customer.objects.get(external_userid="wmLATE0001")
        matched = Order.objects.get(pk=order.json()["id"])
        assert matched.customer == customer
        assert matched.matched_by == "external_userid"
        assert matched.matched_at is not None
        assert CustomEvent.objects.get(pk=event.json()["id"]).customer == customer
    kinds = sorted(kind for kind, _data in timeline_kinds(customer))
    assert kinds == ["added", "custom", "order"]


def test_an_order_by_phone_is_matched_when_a_customer_with_that_remark_phone_is_added(
    client_a, write_key, corp
):
    order = push_order(client_a, write_key, order_id="LATE-2", phone="139-0000-2222")
    assert order.json()["match_problem"] == "not_found"

    corp.add_customer(
        CORP_ID,
        external_userid="wmLATE0002",
        follows=[{"userid": "amy", "remark_mobiles": ["13900002222"]}],
    )
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmLATE0002")

        matched = Order.objects.get(pk=order.json()["id"])
        assert matched.customer.external_userid == "wmLATE0002"
        assert matched.matched_by == "phone"
        assert matched.match_problem == ""


def test_a_phone_a_guide_enters_later_matches_at_the_periodic_rematch(client_a, write_key, corp):
    # given a customer of Amy's without a remark phone, and an order naming a phone
    corp.add_customer(CORP_ID, external_userid="wmLATE0003", follows=[{"userid": "amy"}])
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmLATE0003")
        rematch_recent(settle=timedelta(0))  # the watermark passes the add
    order = push_order(client_a, write_key, order_id="LATE-3", phone="13900003333")
    assert order.json()["customer"] is None

    # when Amy enters the phone from the sidebar (no callback: WeCom sends none for it)
    with schema_context("alpha"):
        relation = Relation.objects.get(customer__external_userid="wmLATE0003")
        relation_remark_update(relation=relation, actor=None, remark_mobiles=["13900003333"])
        assert Order.objects.get(pk=order.json()["id"]).customer is None

        # then the periodic re-match finds it
        assert rematch_recent(settle=timedelta(0)) == 1
        assert Order.objects.get(pk=order.json()["id"]).customer == relation.customer


def test_the_periodic_rematch_reads_each_timeline_entry_once(client_a, write_key):
    push_order(client_a, write_key, order_id="W-1", external_userid="wmW1")
    with schema_context("alpha"):
        customer = CustomerFactory(external_userid="wmW1")
        added = CustomerEventFactory(customer=customer, created_at=ago(minutes=5))
        # a fresh entry may still have older ones in flight: the watermark waits
        fresh = CustomerEventFactory(customer=CustomerFactory())

        assert rematch_recent() == 1
        assert MatchState.objects.get().last_event_id == added.pk
        assert Order.objects.get(order_id="W-1").customer == customer

        CustomerEvent.objects.filter(pk=fresh.pk).update(created_at=ago(minutes=5))
        assert rematch_recent() == 0
        assert MatchState.objects.get().last_event_id == fresh.pk


def test_the_nightly_rematch_finds_a_unionid_bound_later(client_a, write_key):
    order = push_order(client_a, write_key, order_id="N-1", unionid="oLATER")
    with schema_context("alpha"):
        customer = CustomerFactory()
        Customer.objects.filter(pk=customer.pk).update(unionid="oLATER")

        assert rematch_all() == 1
        assert Order.objects.get(pk=order.json()["id"]).customer == customer
    [(kind, _data)] = timeline_kinds(customer)
    assert kind == "order"


def test_an_ambiguous_phone_stays_unmatched_through_rematches(client_a, write_key):
    with schema_context("alpha"):
        first, second = CustomerFactory(), CustomerFactory()
        RelationFactory(customer=first, remark_mobiles=["13700001111"])
        RelationFactory(customer=second, remark_mobiles=["13700001111"])
    order = push_order(client_a, write_key, order_id="A-1", phone="13700001111")

    with schema_context("alpha"):
        rematch_all()
        stored = Order.objects.get(pk=order.json()["id"])
        assert stored.customer is None
        assert stored.match_problem == "ambiguous_phone"

        # once the second customer's number is corrected, the order is the first's
        Relation.objects.filter(customer_id=second.pk).update(remark_mobiles=["13700002222"])
        rematch_all()
        stored.refresh_from_db()
        assert stored.customer == first
        assert stored.matched_by == "phone"
