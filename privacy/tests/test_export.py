"""Export on request (个人信息导出): everything about one customer as one JSON document, from
the console (admins) and the API (read-write keys), audit-logged, in a fixed number of
queries."""

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import UserFactory
from contacts.models import Customer, CustomerEvent
from privacy.selectors import customer_export
from privacy.tests.helpers import build_person, world_setup

SECTIONS = {
    "customer": 1,
    "relations": 2,
    "notes": 1,
    "follow_ups": 1,
    "orders": 2,
    "custom_events": 1,
    "group_sends": 1,
    "handovers": 1,
    "group_chats": 1,
    "welcome_messages": 1,
    "webhook_events": 2,
    "wecom_callbacks": 1,
}


@pytest.fixture
def person(alpha, client_a, write_key):
    world = world_setup()
    return build_person(
        client_a,
        write_key,
        name="李四",
        external_userid="wmEXPORT00000001",
        unionid="oEXPORTUNION0001",
        phones=["+86 138-0013-8000", "13900139000"],
        normalised=["13800138000", "13900139000"],
        tag_suffix="x",
        **{k: world[k] for k in ("store", "guides", "channel", "tag", "endpoint")},
    )


def login(client, role: str):
    with schema_context("alpha"):
        user = UserFactory(role=role)
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return user


def test_the_export_holds_everything_about_the_customer(person):
    document = customer_export(customer=person.customer, full_phones=True)

    assert document["format"] == "scrm.customer-export/1"
    assert document["phones_masked"] is False
    for section, count in SECTIONS.items():
        value = document[section]
        assert (1 if isinstance(value, dict) else len(value)) == count, section
    assert document["customer"]["name"] == "李四"
    assert document["customer"]["erased"] is False
    held = document["relations"][0]
    assert held["remark_mobiles"] == ["+86 138-0013-8000", "13900139000"]
    assert held["tags"] == [{"id": "etVIP", "name": "VIP", "group": "等级"}]
    assert held["channel"]["name"] == "门店海报"
    assert held["guide"]["userid"] == "amy"
    assert document["lifecycle_stage"]["stage"] == "first_order"
    kinds = [entry["kind"] for entry in document["timeline"]]
    assert {"added", "edited", "note", "order", "custom"} <= set(kinds)
    by_id = {order["order_id"]: order for order in document["orders"]}
    assert by_id["P-x"]["keys"]["phone"] == "13800138000"
    assert by_id["P-x"]["keys"]["matched_by"] == "phone"
    assert by_id["E-x"]["keys"]["external_userid"] == "wmEXPORT00000001"
    assert document["custom_events"][0]["properties"]["phone"] == "13900139000"
    assert document["group_sends"][0]["status"] == "sent"
    assert document["group_chats"][0]["group_nickname"] == "李四（杭州）"
    assert {e["type"] for e in document["webhook_events"]} == {
        "customer.added",
        "customer.deleted",
    }
    assert document["wecom_callbacks"][0]["payload"]["ExternalUserID"] == "wmEXPORT00000001"
    json.dumps(document)  # plain JSON all the way down


def test_phones_are_masked_for_a_reader_who_may_not_see_them(person):
    document = customer_export(customer=person.customer, full_phones=False)

    # free text (notes, follow-ups) is exported as written, as everywhere else
    structured = {
        **document,
        "notes": [],
        "follow_ups": [],
        "timeline": [e for e in document["timeline"] if e["kind"] != "note"],
    }
    text = json.dumps(structured, ensure_ascii=False)
    assert document["phones_masked"] is True
    assert "13800138000" not in text
    assert "13900139000" not in text
    assert document["relations"][0]["remark_mobiles"] == ["+86****8000", "139****9000"]
    assert document["custom_events"][0]["properties"]["phone"] == "139****9000"


def test_it_costs_the_same_queries_whatever_the_customer_holds(person):
    bare = Customer.objects.create(external_userid="wmBARE0001", name="空")
    with CaptureQueriesContext(connection) as small:
        customer_export(customer=bare, full_phones=True)
    for n in range(40):
        CustomerEvent.objects.create(
            customer=person.customer, kind="note", occurred_at=timezone.now(), data={"n": n}
        )
    with CaptureQueriesContext(connection) as big:
        customer_export(customer=person.customer, full_phones=True)

    assert len(big) == len(small) + 1  # the tag catalogue, read only when tags are carried
    assert len(big) <= 15


def test_admins_download_it_from_the_customer_page_and_it_is_audit_logged(person, client_a):
    admin = login(client_a, "admin")
    page = client_a.get(f"/customers/{person.customer.pk}/").content.decode()
    assert f'href="/privacy/customers/{person.customer.pk}/export.json"' in page

    response = client_a.get(f"/privacy/customers/{person.customer.pk}/export.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="customer-')
    assert response["Cache-Control"] == "no-store"
    document = json.loads(response.content)
    assert document["customer"]["external_userid"] == "wmEXPORT00000001"
    assert document["phones_masked"] is False
    with schema_context("alpha"):
        entry = AuditLogEntry.objects.get(action="privacy.customer_exported")
    assert (entry.actor_id, entry.target_id) == (str(admin.pk), str(person.customer.pk))


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_other_roles_neither_see_the_buttons_nor_reach_the_export(person, client_a, role):
    login(client_a, role)
    page = client_a.get(f"/customers/{person.customer.pk}/").content.decode()
    assert "/privacy/customers/" not in page

    assert client_a.get(f"/privacy/customers/{person.customer.pk}/export.json").status_code == 403
    assert client_a.get(f"/privacy/customers/{person.customer.pk}/erase/").status_code == 403
    with schema_context("alpha"):
        assert not AuditLogEntry.objects.filter(action="privacy.customer_exported").exists()


def test_the_api_exports_with_a_read_write_key(person, client_a, write_key, masked_key, read_key):
    path = f"/api/v1/customers/{person.customer.pk}/export/"

    full = client_a.get(path, **write_key)
    masked = client_a.get(path, **masked_key)

    assert full.status_code == 200
    assert full.json()["relations"][0]["remark_mobiles"][1] == "13900139000"
    assert masked.json()["relations"][0]["remark_mobiles"][1] == "139****9000"
    assert client_a.get(path, **read_key).status_code == 403
    assert client_a.get("/api/v1/customers/999999/export/", **write_key).status_code == 404
    with schema_context("alpha"):
        entries = AuditLogEntry.objects.filter(action="privacy.customer_exported")
        assert [e.actor_type for e in entries] == ["api_key", "api_key"]


def test_another_tenants_key_gets_nothing(person, client_b):
    from orders.tests.conftest import api_key

    key_b = api_key("beta", sees_phones=True)

    response = client_b.get(f"/api/v1/customers/{person.customer.pk}/export/", **key_b)

    assert response.status_code == 404
