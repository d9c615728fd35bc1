"""Tenants never see each other: logins, API keys and rows are all per schema."""

from django_tenants.utils import schema_context

from accounts.models import APIKey
from accounts.tests.factories import (
    PASSWORD,
    AuditLogEntryFactory,
    UserFactory,
    bearer,
    make_api_key,
)


def test_operator_of_a_cannot_log_in_on_b_host(db, client_a, client_b):
    # given an operator of alpha
    with schema_context("alpha"):
        UserFactory(username="lin", role="admin")

    # when they log in on beta's host
    response = client_b.post("/accounts/login/", {"username": "lin", "password": PASSWORD})

    # then beta refuses and no session exists; on alpha's host the same login works
    assert response.status_code == 200
    assert "_auth_user_id" not in client_b.session
    response = client_a.post("/accounts/login/", {"username": "lin", "password": PASSWORD})
    assert response.status_code == 302
    assert client_a.get("/").status_code == 200


def test_session_of_a_is_not_valid_on_b(db, client_a, client_b):
    with schema_context("alpha"):
        UserFactory(username="lin")
    client_a.post("/accounts/login/", {"username": "lin", "password": PASSWORD})
    client_b.cookies = client_a.cookies

    response = client_b.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_api_key_of_a_gets_401_on_b_host(db, client_a, client_b):
    with schema_context("alpha"):
        _, raw_key = make_api_key()

    assert client_b.get("/api/v1/audit-log/", **bearer(raw_key)).status_code == 401
    assert client_a.get("/api/v1/audit-log/", **bearer(raw_key)).status_code == 200


def test_same_ids_in_both_tenants_each_key_sees_its_own_rows(db, client_a, client_b):
    # given both tenants hold an audit entry with the same id, and an API key with the same id
    with schema_context("alpha"):
        AuditLogEntryFactory(id=7001, target_label="alpha-only")
        key_a, raw_a = make_api_key()
    with schema_context("beta"):
        AuditLogEntryFactory(id=7001, target_label="beta-only")
        key_b, raw_b = make_api_key()
        APIKey.objects.filter(pk=key_b.pk).update(id=key_a.pk)

    # when each key lists the audit log on its own host
    rows_a = client_a.get("/api/v1/audit-log/", **bearer(raw_a)).json()["results"]
    rows_b = client_b.get("/api/v1/audit-log/", **bearer(raw_b)).json()["results"]

    # then each sees only its own tenant's rows
    labels_a = {row["target_label"] for row in rows_a if row["id"] == 7001}
    labels_b = {row["target_label"] for row in rows_b if row["id"] == 7001}
    assert labels_a == {"alpha-only"}
    assert labels_b == {"beta-only"}
    assert "beta-only" not in str(rows_a)
    assert "alpha-only" not in str(rows_b)
    detail = client_a.get("/api/v1/audit-log/7001/", **bearer(raw_a)).json()
    assert detail["target_label"] == "alpha-only"


def test_unknown_host_is_404(db):
    from django.test import Client

    assert Client(HTTP_HOST="nobody.localhost").get("/accounts/login/").status_code == 404


def test_deactivated_tenant_answers_403(db, client_a, tenant_a):
    from tenants.services import tenant_set_active

    tenant_set_active(tenant=tenant_a, active=False)

    response = client_a.get("/accounts/login/")

    assert response.status_code == 403
    assert "此租户已停用" in response.content.decode()
