"""Erasure on request (删除个人信息): after it, no table of the tenant schema holds the
customer's name, phone numbers (in any spelling) or external_userid except the one audit
entry; every count stays; another customer of the same name keeps everything."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuditLogEntry, IdempotencyKey
from broadcast.models import Delivery as BroadcastDelivery
from broadcast.planning import broadcast_counts
from channels_qr.selectors import channel_stats
from contacts.models import Customer, CustomerEvent, GroupChatMember, Guide, Relation
from dashboard.aggregates import dashboard_backfill
from dashboard.models import ChannelDay, GuideDay, StoreDay
from dashboard.selectors import DashboardFilters, relation_numbers
from handover.selectors import handover_item_counts
from lifecycle.models import CustomerStage
from orders.models import CustomEvent, MatchedBy, Order
from privacy.erased import is_erased, privacy_settings
from privacy.erasure import ERASED_ACTION, customers_erase
from privacy.models import ErasedContact
from privacy.services import AlreadyErased, customer_erase
from privacy.tests.helpers import Person, build_person, schema_scan, world_setup
from sidebar.models import FollowUp, Note
from webhooks.models import Event

NAME = "张三丰"


KEPT: dict[str, Any] = {
    "external_userid": "wmKEEPME000000000000002",
    "unionid": "oKEEPUNION0000000002",
    "phones": ["13700137000", "136 0013 6000"],
    "normalised": ["13700137000", "13600136000"],
    "tag_suffix": "keep",
}
ERASED: dict[str, Any] = {
    "external_userid": "wmERASEME00000000000001",
    "unionid": "oERASEUNION000000001",
    "phones": ["+86 138-0013-8000", "13900139000"],
    "normalised": ["13800138000", "13900139000"],
    "tag_suffix": "erase",
}


def make_people(client_a, write_key, *, between=None) -> tuple[Person, Person, dict]:
    """The other customer first, then (after `between()`) the one to erase; same name."""
    world = world_setup()
    common: dict[str, Any] = {
        key: world[key] for key in ("store", "guides", "channel", "tag", "endpoint")
    }
    other = build_person(client_a, write_key, name=NAME, **KEPT, **common)
    if between is not None:
        between(other)
    person = build_person(client_a, write_key, name=NAME, **ERASED, **common)
    return person, other, world


def dashboard_snapshot() -> dict:
    dashboard_backfill()
    today = timezone.localdate()
    numbers = relation_numbers(DashboardFilters(start=today - timedelta(days=30), end=today))
    tables = {
        model.__name__: sorted(
            model.objects.values_list(*[f.attname for f in model._meta.concrete_fields][1:])
        )
        for model in (StoreDay, ChannelDay, GuideDay)
    }
    return {"total": numbers.total, "days": numbers.days, "tables": tables}


def counts_snapshot(person: Person, world: dict) -> dict:
    today = timezone.localdate()
    assert person.broadcast is not None
    assert person.handover is not None
    return {
        "customers": Customer.objects.count(),
        "relations": list(
            Relation.objects.order_by("id").values_list(
                "id", "guide_id", "customer_id", "status", "channel_id", "added_at", "deleted_at"
            )
        ),
        "timeline": list(
            CustomerEvent.objects.order_by("id").values_list("id", "kind", "customer_id")
        ),
        "orders": list(Order.objects.order_by("id").values_list("id", "customer_id", "amount")),
        "events": CustomEvent.objects.count(),
        "broadcast": broadcast_counts(person.broadcast),
        "handover": handover_item_counts([person.handover.pk]),
        "channel": [
            (row.day, row.adds, row.welcome_sent)
            for row in channel_stats(
                channel_id=world["channel"].pk, start=today - timedelta(days=29), end=today
            )
        ],
        "stages": list(CustomerStage.objects.order_by("id").values_list("customer_id", "stage")),
        "webhook_events": Event.objects.count(),
    }


def test_nothing_of_the_customer_remains_but_the_audit_entry_and_every_count_stays(
    alpha, client_a, write_key
):
    # given a customer with data in every app, and another of the same name
    baseline: dict[str, Any] = {}
    person, other, world = make_people(
        client_a,
        write_key,
        between=lambda other: baseline.update(
            scan=schema_scan("alpha", {"name": NAME, **_ids(other)})
        ),
    )
    before_scan_other = baseline["scan"]
    dashboard_before = dashboard_snapshot()
    counts_before = counts_snapshot(person, world)
    assert schema_scan("alpha", person.needles()), "the fixture names the customer somewhere"

    # when the customer is erased
    result = customer_erase(customer=person.customer, actor=None)

    # then nothing in the tenant schema names them, except the erasure's audit entry
    [entry] = AuditLogEntry.objects.filter(action=ERASED_ACTION)
    hits = schema_scan("alpha", {k: v for k, v in person.needles().items() if k != "name"})
    assert {(h.table, h.row, h.needle) for h in hits} == {
        ("accounts_auditlogentry", str(entry.pk), "external_userid")
    }, sorted(map(str, hits))
    # the name remains only where the other customer's rows hold it, exactly as before
    name_hits = schema_scan("alpha", {"name": NAME})
    other_rows = {(h.table, h.column, h.row) for h in before_scan_other if h.needle == "name"}
    assert {(h.table, h.column, h.row) for h in name_hits} == other_rows
    assert schema_scan("alpha", {"name": NAME, **_ids(other)}) == before_scan_other
    # every count stays: dashboards, channel stats, group sends, handovers, stages, rows
    assert dashboard_snapshot() == dashboard_before
    assert counts_snapshot(person, world) == counts_before
    assert result.rows["contacts_customer"] == 1


def _ids(person: Person) -> dict[str, str]:
    return {k: v for k, v in person.needles().items() if k != "name"}


def test_the_customer_row_stays_anonymised_with_what_counts(alpha, client_a, write_key):
    person, other, _world = make_people(client_a, write_key)

    customer_erase(customer=person.customer, actor=None)

    customer = Customer.objects.get(pk=person.customer.pk)
    assert customer.external_userid.startswith("erased_")
    assert len(customer.external_userid) > 20
    assert (customer.name, customer.avatar, customer.unionid) == ("", "", "")
    assert (customer.corp_name, customer.position) == ("", "")
    assert customer.gender == Customer.Gender.MALE  # identifies nobody, feeds aggregates
    relations = list(customer.relations.order_by("id"))
    assert [(r.remark, r.description, r.remark_mobiles) for r in relations] == [("", "", [])] * 2
    assert [r.wecom_tag_ids for r in relations] == [["etVIP"], []]
    timeline = list(CustomerEvent.objects.filter(customer=customer).values_list("kind", "data"))
    assert len(timeline) >= 5
    assert all(data == {} for _kind, data in timeline)
    assert not Note.objects.filter(customer=customer).exists()
    assert not FollowUp.objects.filter(customer=customer).exists()
    assert not GroupChatMember.objects.filter(customer=customer).exists()
    orders = list(Order.objects.filter(customer=customer).order_by("order_id"))
    assert [(o.order_id, str(o.amount), o.external_userid, o.phone) for o in orders] == [
        ("E-erase", "88.00", "", ""),
        ("P-erase", "199.00", "", ""),
    ]
    assert {o.matched_by for o in orders} == {MatchedBy.EXTERNAL_USERID, MatchedBy.PHONE}
    [event] = CustomEvent.objects.filter(customer=customer)
    assert (event.properties, event.external_userid) == ({}, "")
    delivery = BroadcastDelivery.objects.get(customer=customer)
    assert (delivery.target, delivery.status) == (customer.external_userid, "sent")
    webhook = Event.objects.filter(data__customer__id=customer.pk).first()
    assert webhook is not None
    assert webhook.data["customer"] == {
        "id": customer.pk,
        "external_userid": customer.external_userid,
        "name": "",
        "unionid": "",
    }
    # the other customer of the same name keeps all of it
    kept = Customer.objects.get(pk=other.customer.pk)
    assert (kept.name, kept.external_userid) == (NAME, other.external_userid)
    assert Note.objects.filter(customer=kept).exists()
    assert kept.relations.filter(remark=f"{NAME} VIP", remark_mobiles=other.phones).exists()
    # a stored API answer (Idempotency-Key) keeps the other's number, not the erased one's
    assert "13700137000" in str(IdempotencyKey.objects.get(key="idem-keep").response_body)
    assert "13800138000" not in str(IdempotencyKey.objects.get(key="idem-erase").response_body)


def test_one_audit_entry_keeps_the_external_userid_and_the_hash_is_keyed(
    alpha, client_a, write_key
):
    person, _other, _world = make_people(client_a, write_key)

    customer_erase(customer=person.customer, actor=None)

    [entry] = AuditLogEntry.objects.filter(action=ERASED_ACTION)
    assert entry.target_id == str(person.customer.pk)
    assert entry.detail["external_userid"] == person.external_userid
    assert entry.detail["rows"]["sidebar_note"] == 1
    assert NAME not in str(entry.detail)
    assert NAME not in entry.target_label
    [erased] = ErasedContact.objects.all()
    assert person.external_userid not in erased.id_hash
    assert len(erased.id_hash) == 64
    assert is_erased(person.external_userid)
    assert not is_erased("wmKEEPME000000000000002")
    # the remark edit's audit entry lost its details; the export's filter lost the number
    remark = AuditLogEntry.objects.get(
        action="contacts.remark_updated", target_id=str(person.relations[0].pk)
    )
    assert remark.detail == {"erased": True, "fields": ["remark", "remark_mobiles"]}
    exported = AuditLogEntry.objects.filter(action="contacts.exported").order_by("id")
    assert [e.detail["filters"]["q"] for e in exported] == ["13700137000", "[erased]"]


def test_erasing_twice_is_refused_and_changes_nothing(alpha, client_a, write_key):
    person, _other, _world = make_people(client_a, write_key)
    customer_erase(customer=person.customer, actor=None)

    with pytest.raises(AlreadyErased):
        customer_erase(customer=person.customer, actor=None)
    assert customers_erase(customer_ids=[person.customer.pk]).count == 0
    assert AuditLogEntry.objects.filter(action=ERASED_ACTION).count() == 1


def test_an_erasure_is_a_fixed_number_of_statements_whatever_the_data(alpha, client_a, write_key):
    person, other, _world = make_people(client_a, write_key)
    many = [other.customer.pk]
    for n in range(30):
        customer = Customer.objects.create(external_userid=f"wmBULK{n:04d}", name=f"n{n}")
        Relation.objects.create(
            guide=person.relations[n % 2].guide,
            customer=customer,
            remark_mobiles=[f"1580000{n:04d}"],
            added_at=timezone.now(),
        )
        CustomerEvent.objects.create(customer=customer, kind="note", occurred_at=timezone.now())
        many.append(customer.pk)
    privacy_settings()  # created once per tenant, on its first erasure

    one = _Counter()
    with connection.execute_wrapper(one):
        customers_erase(customer_ids=[person.customer.pk])
    thirty_one = _Counter()
    with connection.execute_wrapper(thirty_one):
        result = customers_erase(customer_ids=many)

    assert result.count == 31
    assert thirty_one.count == one.count < 40


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def test_free_text_loses_whole_ids_and_numbers_only(alpha):
    from accounts.services import audit_record

    erased = Customer.objects.create(external_userid="wmAB12", name="吴十")
    Relation.objects.create(
        guide=Guide.objects.create(userid="amy", name="Amy"),
        customer=erased,
        remark_mobiles=["13800138000"],
        added_at=timezone.now(),
    )
    audit_record(
        action="contacts.exported",
        detail={"q": "wmAB123 wmAB12 吴十 138001380001 +8613800138000 138 0013 8000"},
    )

    customer_erase(customer=erased, actor=None)

    erased.refresh_from_db()
    entry = AuditLogEntry.objects.get(action="contacts.exported")
    assert entry.detail["q"] == (
        f"wmAB123 {erased.external_userid} [erased] 138001380001 [erased] [erased]"
    )


def test_every_table_linked_to_customers_is_accounted_for():
    from django.apps import apps

    from privacy.erasure import CUSTOMER_TABLES

    linked = {
        model._meta.db_table
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is Customer
    }

    assert linked <= set(CUSTOMER_TABLES), sorted(linked - set(CUSTOMER_TABLES))
