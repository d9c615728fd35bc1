"""JSON bodies PostgreSQL could not store are refused whole, with a clear 400."""

import json

import pytest
from django_tenants.utils import schema_context

from accounts.models import APIKey
from accounts.tests.factories import bearer, make_api_key
from orders.models import CustomEvent, Order

EVENT = {
    "type": "coupon_used",
    "external_userid": "wm_1",
    "occurred_at": "2026-11-01T10:00:00+08:00",
}
ORDER = {
    "order_id": "o-1",
    "external_userid": "wm_1",
    "amount": "9.90",
    "paid_at": "2026-11-01T10:00:00+08:00",
}


@pytest.fixture
def write_key(db) -> dict[str, str]:
    with schema_context("alpha"):
        _, raw = make_api_key(scope=APIKey.Scope.READ_WRITE)
    return bearer(raw)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/events/", {**EVENT, "properties": {"coupon": "A\u0000"}}),
        ("/api/v1/events/", {**EVENT, "properties": {"co\u0000upon": 1}}),
        ("/api/v1/events/batch/", {"events": [{**EVENT, "properties": {"x": ["\u0000"]}}]}),
        ("/api/v1/orders/", {**ORDER, "items": [{"name": "\u0000", "quantity": 1}]}),
    ],
)
def test_a_nul_anywhere_in_a_json_body_is_refused(client_a, write_key, url, body):
    response = client_a.post(url, json.dumps(body), content_type="application/json", **write_key)

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    with schema_context("alpha"):
        assert not CustomEvent.objects.exists()
        assert not Order.objects.exists()


def test_escaped_text_that_is_not_nul_passes(client_a, write_key):
    body = {**EVENT, "properties": {"note": "\\u0000 is spelled out, \u00e9 is not NUL"}}

    response = client_a.post(
        "/api/v1/events/", json.dumps(body), content_type="application/json", **write_key
    )

    assert response.status_code == 201, response.content
