from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from rest_framework.test import APIRequestFactory

from accounts.api.permissions import HasAPIKeyScope
from accounts.models import APIKey
from accounts.services import api_key_revoke
from accounts.tests.factories import AuditLogEntryFactory, bearer, make_api_key


def test_requests_without_a_key_get_401(db, client_a):
    response = client_a.get("/api/v1/audit-log/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Token abc", "Bearer scrm_00000000_wrong", "Bearer not-a-key", "Basic dXNlcjpwdw=="],
)
def test_bad_credentials_get_401_with_a_clear_message(db, client_a, header):
    response = client_a.get("/api/v1/audit-log/", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert "API" in response.json()["detail"]


def test_revoked_key_gets_401(db, client_a):
    with schema_context("alpha"):
        key, raw_key = make_api_key()
        api_key_revoke(api_key=key, revoked_by=None)

    response = client_a.get("/api/v1/audit-log/", **bearer(raw_key))

    assert response.status_code == 401
    assert "吊销" in response.json()["detail"]


def test_audit_log_list_is_paginated_by_cursor(db, client_a, django_assert_num_queries):
    with schema_context("alpha"):
        _, raw_key = make_api_key()
        for index in range(60):
            AuditLogEntryFactory(target_label=f"t{index}")

    with django_assert_num_queries(5):  # routing (3), key lookup, page
        first = client_a.get("/api/v1/audit-log/", **bearer(raw_key)).json()
    second = client_a.get(first["next"], **bearer(raw_key)).json()

    assert len(first["results"]) == 50
    assert first["results"][0]["target_label"] == "t59"
    assert len(second["results"]) == 11  # 10 more, and the key's own creation entry
    assert second["next"] is None
    assert first["results"][0]["action_label"] == "修改设置"


def test_audit_log_filter_by_action(db, client_a):
    with schema_context("alpha"):
        _, raw_key = make_api_key()
        AuditLogEntryFactory(action="handover.started")
        AuditLogEntryFactory(action="settings.changed")

    rows = client_a.get("/api/v1/audit-log/?action=handover.started", **bearer(raw_key)).json()[
        "results"
    ]

    assert [row["action"] for row in rows] == ["handover.started"]


def test_api_key_list_never_exposes_the_hash(db, client_a):
    with schema_context("alpha"):
        _, raw_key = make_api_key()

    rows = client_a.get("/api/v1/api-keys/", **bearer(raw_key)).json()["results"]

    assert rows[0]["scope"] == "read"
    assert "key_hash" not in rows[0]


@pytest.mark.parametrize(
    ("scope", "method", "allowed"),
    [
        ("read", "get", True),
        ("read", "post", False),
        ("read", "delete", False),
        ("read_write", "get", True),
        ("read_write", "post", True),
    ],
)
def test_scope_permission(scope, method, allowed):
    request = getattr(APIRequestFactory(), method)("/api/v1/x/")
    request.auth = APIKey(scope=scope)

    assert HasAPIKeyScope().has_permission(request, view=None) is allowed


def test_key_last_used_is_written_at_most_once_a_minute(
    db, client_a, django_capture_on_commit_callbacks
):
    with schema_context("alpha"):
        key, raw_key = make_api_key()

    with django_capture_on_commit_callbacks() as queued:
        client_a.get("/api/v1/api-keys/", **bearer(raw_key))
    assert len(queued) == 1

    with schema_context("alpha"):
        APIKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(seconds=5))
    with django_capture_on_commit_callbacks() as queued:
        client_a.get("/api/v1/api-keys/", **bearer(raw_key))
    assert queued == []


def test_each_api_key_has_its_own_rate_limit(db, client_a, client_b, settings):
    settings.API_KEY_RATE = "3/min"
    with schema_context("alpha"):
        key, raw_key = make_api_key()
        _, other_raw = make_api_key(name="CRM")
    with schema_context("beta"):
        beta_key, beta_raw = make_api_key()
        # the same id in the other tenant's schema
        APIKey.objects.filter(pk=beta_key.pk).update(id=key.pk)

    answers = [client_a.get("/api/v1/audit-log/", **bearer(raw_key)) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert answers[-1].json()["detail"]
    # another key of the same tenant, and the same id in another tenant, are not limited
    assert client_a.get("/api/v1/audit-log/", **bearer(other_raw)).status_code == 200
    assert client_b.get("/api/v1/audit-log/", **bearer(beta_raw)).status_code == 200


def test_audit_log_filter_refuses_a_bad_action_clearly(db, client_a):
    with schema_context("alpha"):
        _, raw_key = make_api_key()

    long = client_a.get("/api/v1/audit-log/?action=" + "a" * 65, **bearer(raw_key))

    assert long.status_code == 400
    assert "action" in long.json()
