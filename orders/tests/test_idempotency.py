"""Idempotency-Key on the POST endpoints (scrm.api.idempotency), through the orders API."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import IdempotencyKey
from conftest import tenant_host
from contacts.tests.factories import CustomerFactory
from orders.api import views as order_views
from orders.tests.conftest import api_key
from orders.tests.helpers import counts
from scrm.api.idempotency import idempotency_keys_prune

ORDER = {
    "order_id": "I-1",
    "external_userid": "wmIDEM",
    "amount": "88.00",
    "paid_at": "2024-03-01T10:00:00+08:00",
}


def post(client, key, body, idempotency_key, path="/api/v1/orders/", **extra):
    return client.post(
        path,
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=idempotency_key,
        **key,
        **extra,
    )


@pytest.fixture
def customer(db):
    with schema_context("alpha"):
        return CustomerFactory(external_userid="wmIDEM")


def test_a_repeated_key_returns_the_first_answer_and_creates_nothing(client_a, write_key, customer):
    first = post(client_a, write_key, ORDER, "key-1")
    after_first = counts()

    again = post(client_a, write_key, ORDER, "key-1")

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert counts() == after_first
    # without the key, the same body is a second push: an update of the same order
    assert post(client_a, write_key, ORDER, "key-2").status_code == 200


def test_the_same_key_with_another_body_is_refused(client_a, write_key, customer):
    client_a.cookies["django_language"] = "en"
    post(client_a, write_key, ORDER, "key-1")
    before = counts()

    response = post(client_a, write_key, {**ORDER, "amount": "99.00"}, "key-1")

    assert response.status_code == 422
    assert response.json()["detail"].startswith("This Idempotency-Key was already used")
    assert response.json()["code"] == "idempotency_key_reused"  # as the schema documents
    assert counts() == before
    with schema_context("alpha"):
        from orders.models import Order

        assert str(Order.objects.get(order_id="I-1").amount) == "88.00"


def test_json_spacing_and_key_order_do_not_make_another_request(client_a, write_key, customer):
    post(client_a, write_key, ORDER, "key-1")

    reordered = dict(reversed(list(ORDER.items())))
    response = post(client_a, write_key, reordered, "key-1")

    assert response.status_code == 201
    assert response["Idempotent-Replayed"] == "true"


def test_the_same_key_on_another_endpoint_is_refused(client_a, write_key, customer):
    post(client_a, write_key, ORDER, "key-1")

    response = post(client_a, write_key, {"orders": [ORDER]}, "key-1", path="/api/v1/orders/batch/")

    assert response.status_code == 422


def test_keys_belong_to_one_api_key(client_a, write_key, customer):
    other_key = api_key()
    post(client_a, write_key, ORDER, "key-1")

    response = post(client_a, other_key, {**ORDER, "order_id": "I-2"}, "key-1")

    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")


def test_a_refused_request_keeps_no_key_so_the_corrected_one_goes_through(
    client_a, write_key, customer
):
    bad = post(client_a, write_key, {**ORDER, "amount": "lots"}, "key-1")
    good = post(client_a, write_key, ORDER, "key-1")

    assert bad.status_code == 400
    assert good.status_code == 201
    assert counts()[0] == 1


def test_a_replayed_batch_creates_nothing(client_a, write_key, customer):
    body = {"orders": [ORDER, {**ORDER, "order_id": "I-2"}]}
    first = post(client_a, write_key, body, "batch-1", path="/api/v1/orders/batch/")
    before = counts()

    again = post(client_a, write_key, body, "batch-1", path="/api/v1/orders/batch/")

    assert again.json() == first.json()
    assert counts() == before


def test_a_replayed_event_creates_nothing(client_a, write_key, customer):
    event = {"type": "signup", "external_userid": "wmIDEM", "occurred_at": "2024-01-01T00:00:00"}
    first = post(client_a, write_key, event, "event-1", path="/api/v1/events/")
    before = counts()

    again = post(client_a, write_key, event, "event-1", path="/api/v1/events/")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert counts() == before


def test_a_bad_key_is_a_400(client_a, write_key):
    response = post(client_a, write_key, ORDER, "x" * 256)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert counts()[0] == 0


def test_keys_expire_after_24_hours_and_are_pruned(client_a, write_key, customer):
    post(client_a, write_key, ORDER, "key-1")
    with schema_context("alpha"):
        IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    # expired: the key is free again, even before the prune job ran
    response = post(client_a, write_key, {**ORDER, "order_id": "I-2"}, "key-1")
    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")

    with schema_context("alpha"):
        IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert idempotency_keys_prune() == 1
        assert IdempotencyKey.objects.count() == 0


def test_concurrent_duplicates_create_one_order(committed_db, tenant_a, monkeypatch):
    with schema_context("alpha"):
        CustomerFactory(external_userid="wmIDEM")
    key = api_key()
    upsert = order_views.orders_upsert
    entered = threading.Event()

    def slow_upsert(**kwargs):
        # the first request holds its key while the second arrives
        entered.set()
        time.sleep(0.5)
        return upsert(**kwargs)

    monkeypatch.setattr(order_views, "orders_upsert", slow_upsert)
    answers = []

    def send():
        try:
            answers.append(post(Client(HTTP_HOST=tenant_host("alpha")), key, ORDER, "race-1"))
        finally:
            connection.close()

    first = threading.Thread(target=send)
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=send)
    second.start()
    first.join(20)
    second.join(20)

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert sorted(a.has_header("Idempotent-Replayed") for a in answers) == [False, True]
    with schema_context("alpha"):
        from orders.models import Order

        assert Order.objects.count() == 1
        assert IdempotencyKey.objects.count() == 1
