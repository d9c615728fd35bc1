"""The webhooks API as an integrator's HTTP client sees it: endpoints with the secret answered
once and never listed, changes and re-enabling, refusals (SSRF) in Chinese and English, the
delivery log with filters and every attempt, redelivery and tests, read-only keys, lists in
a fixed number of queries, and another brand's key."""

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.tests.factories import bearer, make_api_key
from webhooks.delivery import delivery_send
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_disable_after_failures, endpoint_test
from webhooks.tests.helpers import Receiver, make_endpoint

JSON = "application/json"
URL = "/api/v1/webhooks/endpoints/"
DELIVERIES = "/api/v1/webhooks/deliveries/"


def key(scope: str = APIKey.Scope.READ, schema: str = "alpha", language: str = "en") -> dict:
    with schema_context(schema):
        _, raw_key = make_api_key(scope)
    return {**bearer(raw_key), "HTTP_COOKIE": f"django_language={language}"}


@pytest.fixture
def read_key(db) -> dict:
    return key()


@pytest.fixture
def write_key(db) -> dict:
    return key(APIKey.Scope.READ_WRITE)


def post(client, url, body, headers):
    return client.post(url, body, content_type=JSON, **headers)


def test_an_endpoint_is_created_with_its_secret_answered_once(client_a, write_key):
    response = post(
        client_a,
        URL,
        {
            "url": "https://crm.example.com/scrm",
            "event_types": ["customer.added", "customer.deleted"],
            "description": "CRM",
        },
        write_key,
    )

    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["enabled"] is True
    assert created["event_types"] == ["customer.added", "customer.deleted"]
    listed = client_a.get(URL, **write_key).json()["results"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0]
    one = client_a.get(f"{URL}{created['id']}/", **write_key).json()
    assert "secret" not in one
    with schema_context("alpha"):
        assert Endpoint.objects.get().secret == created["secret"]  # stored encrypted
        assert AuditLogEntry.objects.filter(action="webhook.created").count() == 1


def test_an_integrator_may_bring_its_own_secret(client_a, write_key):
    body = {"url": "https://crm.example.com/a", "event_types": ["customer.added"]}

    short = post(client_a, URL, {**body, "secret": "too-short"}, write_key)
    own = post(client_a, URL, {**body, "secret": "my-own-secret-of-32-characters!!"}, write_key)

    assert short.status_code == 400
    assert "secret" in short.json()
    assert own.status_code == 201
    assert own.json()["secret"] == "my-own-secret-of-32-characters!!"


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_private_target_is_refused_with_the_reason(client_a, db, language):
    headers = key(APIKey.Scope.READ_WRITE, language=language)

    response = post(
        client_a, URL, {"url": "http://10.0.0.8/hook", "event_types": ["customer.added"]}, headers
    )

    assert response.status_code == 400
    [message] = response.json()["url"]
    assert "10.0.0.8" in message
    if language == "en":
        assert "private, local or reserved network" in message
    with schema_context("alpha"):
        assert not Endpoint.objects.exists()


def test_unknown_event_types_are_refused(client_a, write_key):
    response = post(
        client_a, URL, {"url": "https://a.example.com/", "event_types": ["order.paid"]}, write_key
    )

    assert response.status_code == 400
    assert "order.paid" in response.json()["event_types"][0]


def test_an_endpoint_disabled_after_failures_is_enabled_again_by_patch(client_a, write_key):
    with schema_context("alpha"):
        endpoint, _ = make_endpoint("https://crm.example.com/hook", ["customer.added"])
        Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=5)
        endpoint_disable_after_failures(endpoint_id=endpoint.pk)

    shown = client_a.get(f"{URL}{endpoint.pk}/", **write_key).json()
    response = client_a.patch(
        f"{URL}{endpoint.pk}/",
        {"enabled": True, "event_types": ["customer.added", "customer.tagged"]},
        content_type=JSON,
        **write_key,
    )

    assert (shown["enabled"], shown["disabled_by"], shown["consecutive_failures"]) == (
        False,
        "failures",
        5,
    )
    assert response.status_code == 200, response.json()
    assert response.json()["enabled"] is True
    assert response.json()["consecutive_failures"] == 0
    assert response.json()["event_types"] == ["customer.added", "customer.tagged"]
    with schema_context("alpha"):
        actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"webhook.disabled", "webhook.enabled", "webhook.updated"} <= actions


def test_rotating_answers_the_new_secret_once(client_a, write_key):
    with schema_context("alpha"):
        endpoint, old = make_endpoint("https://crm.example.com/hook")

    response = post(client_a, f"{URL}{endpoint.pk}/rotate-secret/", {}, write_key)

    assert response.status_code == 200
    assert response.json()["secret"] not in ("", old)
    assert response.json()["previous_secret_valid_until"] is not None
    with schema_context("alpha"):
        endpoint.refresh_from_db()
        assert endpoint.secret == response.json()["secret"]
        assert endpoint.previous_secret == old


def test_a_read_only_key_reads_but_does_not_write(client_a, read_key):
    with schema_context("alpha"):
        endpoint, _ = make_endpoint("https://crm.example.com/hook")

    assert client_a.get(URL, **read_key).status_code == 200
    assert post(client_a, f"{URL}{endpoint.pk}/ping/", {}, read_key).status_code == 403
    assert client_a.delete(f"{URL}{endpoint.pk}/", **read_key).status_code == 403


def test_the_delivery_log_with_filters_attempts_redelivery_and_ping(client_a, write_key):
    with Receiver([500]) as receiver, schema_context("alpha"):
        endpoint, _ = make_endpoint(receiver.url)
        other, _ = make_endpoint("https://other.example.com/hook")
        delivery_send(delivery_id=endpoint_test(endpoint=endpoint).pk)
        endpoint_test(endpoint=other)

    failed = client_a.get(
        DELIVERIES, {"endpoint": endpoint.pk, "status": "pending"}, **write_key
    ).json()["results"]
    [row] = failed
    detail = client_a.get(f"{DELIVERIES}{row['id']}/", **write_key).json()
    again = post(client_a, f"{DELIVERIES}{row['id']}/redeliver/", {}, write_key)
    ping = post(client_a, f"{URL}{other.pk}/ping/", {}, write_key)
    by_event = client_a.get(DELIVERIES, {"event_id": row["event"]["id"]}, **write_key).json()
    bad = client_a.get(DELIVERIES, {"event_id": "nope"}, **write_key)

    assert row["event"]["type"] == "webhook.test"
    assert row["event"]["id"].startswith("evt_")
    assert (row["attempts"], row["last_status_code"]) == (1, 500)
    assert detail["attempt_log"][0]["status_code"] == 500
    assert detail["attempt_log"][0]["failure"] == "http"
    assert detail["data"]["endpoint"]["id"] == endpoint.pk
    assert again.status_code == 202
    assert again.json()["redelivery_of"] == row["id"]
    assert again.json()["event"]["id"] == row["event"]["id"]
    assert ping.status_code == 202
    assert ping.json()["trigger"] == "test"
    assert {d["id"] for d in by_event["results"]} == {row["id"], again.json()["id"]}
    assert bad.status_code == 400


@pytest.mark.parametrize("count", [2, 9])
def test_lists_cost_the_same_queries_whatever_their_length(
    client_a, read_key, django_assert_num_queries, count
):
    with schema_context("alpha"):
        for n in range(count):
            endpoint, _ = make_endpoint(f"https://crm.example.com/{n}")
            endpoint_test(endpoint=endpoint)

    # routing (3), the key (1) + the page (deliveries with their event and endpoint)
    with django_assert_num_queries(5):
        endpoints = client_a.get(URL, **read_key)
    with django_assert_num_queries(5):
        deliveries = client_a.get(DELIVERIES, **read_key)

    assert len(endpoints.json()["results"]) == count
    assert len(deliveries.json()["results"]) == count


def test_another_brands_key_sees_and_redelivers_nothing(client_a, client_b, write_key):
    with schema_context("alpha"):
        endpoint, _ = make_endpoint("https://crm.example.com/alpha")
        delivery = endpoint_test(endpoint=endpoint)
    beta_key = key(APIKey.Scope.READ_WRITE, schema="beta")

    assert client_a.get(URL, **beta_key).status_code == 401  # beta's key on alpha's host
    assert client_b.get(URL, **beta_key).json()["results"] == []
    assert client_b.get(f"{URL}{endpoint.pk}/", **beta_key).status_code == 404
    assert client_b.get(f"{DELIVERIES}{delivery.pk}/", **beta_key).status_code == 404
    assert post(client_b, f"{DELIVERIES}{delivery.pk}/redeliver/", {}, beta_key).status_code == 404
    assert client_b.delete(f"{URL}{endpoint.pk}/", **beta_key).status_code == 404
    with schema_context("alpha"):
        assert Delivery.objects.count() == 1
        assert Endpoint.objects.count() == 1


def test_deleting_an_endpoint_deletes_its_log(client_a, write_key):
    with Receiver() as receiver, schema_context("alpha"):
        endpoint, _ = make_endpoint(receiver.url)
        delivery_send(delivery_id=endpoint_test(endpoint=endpoint).pk)

    response = client_a.delete(f"{URL}{endpoint.pk}/", **write_key)

    assert response.status_code == 204
    with schema_context("alpha"):
        assert not Endpoint.objects.exists()
        assert not Delivery.objects.exists()
