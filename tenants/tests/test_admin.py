"""Platform admin on the public host: tenants, corp connection, credentials at rest."""

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry, User
from tenants.models import Domain, Tenant, WeComApp, WeComCorp

SECRET = "Sup3r-Secret-Value-From-WeCom-Console-0042"
AES_KEY = "Z" * 43


@pytest.fixture
def admin_client(db, public_client):
    staff = User.objects.create_superuser("root", "root@example.com", "pw")
    public_client.force_login(staff)
    return public_client


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def test_admin_answers_on_the_public_host_only(db, public_client, client_a):
    assert public_client.get("/admin/login/").status_code == 200
    assert client_a.get("/admin/login/").status_code == 404


def test_creating_a_tenant_creates_its_schema_domain_and_first_operator(admin_client):
    # when the platform admin creates a tenant in the admin
    response = admin_client.post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Gamma 美妆",
            "schema_name": "gamma",
            "domain": "gamma.localhost",
            "admin_username": "boss",
            "admin_password": "gamma-pass-123",
        },
    )

    # then the schema exists with the tenant tables, the domain routes to it,
    # and the first operator can log in there
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = Tenant.objects.get(schema_name="gamma")
    assert tenant.provisioned_at is not None
    assert schema_exists("gamma")
    assert Domain.objects.get(domain="gamma.localhost").tenant == tenant
    with schema_context("gamma"):
        assert User.objects.get(username="boss").role == "admin"
    gamma = Client(HTTP_HOST="gamma.localhost")
    login = gamma.post("/accounts/login/", {"username": "boss", "password": "gamma-pass-123"})
    assert login.status_code == 302
    with schema_context("public"):
        entry = AuditLogEntry.objects.get(action="tenant.created", target_label__contains="gamma")
    assert entry.actor_label == "root"


def test_tenant_form_rejects_a_taken_domain_and_bad_schema(admin_client):
    response = admin_client.post(
        "/admin/tenants/tenant/add/",
        {"name": "X", "schema_name": "Bad-Name", "domain": "alpha.localhost"},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "此域名已被使用" in body
    assert not Tenant.objects.filter(name="X").exists()


def test_deactivate_action(admin_client, tenant_a, client_a):
    response = admin_client.post(
        "/admin/tenants/tenant/",
        {"action": "deactivate", "_selected_action": [tenant_a.pk]},
    )

    assert response.status_code == 302
    assert client_a.get("/accounts/login/").status_code == 403


def test_corp_secret_is_encrypted_at_rest_and_never_shown(admin_client, tenant_a):
    corp = WeComCorp.objects.create(tenant=tenant_a, corp_id="wwalpha0001")

    # when the admin saves the app's credentials
    response = admin_client.post(
        "/admin/tenants/wecomapp/add/",
        {
            "corp": corp.pk,
            "kind": "customer_contact",
            "agent_id": "1000002",
            "secret": SECRET,
            "callback_token": "tok3n-value",
            "encoding_aes_key": AES_KEY,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    app = WeComApp.objects.get(corp=corp)

    # then the raw column holds ciphertext, and the model reads the plaintext back
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret, callback_token, encoding_aes_key FROM tenants_wecomapp WHERE id = %s",
            [app.pk],
        )
        raw = cursor.fetchone()
    assert all(value.startswith("enc1:") for value in raw)
    assert SECRET not in "".join(raw)
    assert AES_KEY not in "".join(raw)
    assert app.secret == SECRET

    # and the change page shows only a masked hint
    page = admin_client.get(f"/admin/tenants/wecomapp/{app.pk}/change/").content.decode()
    assert SECRET not in page
    assert AES_KEY not in page
    assert "••••••••0042" in page
    listing = admin_client.get("/admin/tenants/wecomapp/").content.decode()
    assert SECRET not in listing


def test_saving_without_retyping_keeps_the_secret(admin_client, tenant_a):
    corp = WeComCorp.objects.create(tenant=tenant_a, corp_id="wwalpha0002")
    app = WeComApp.objects.create(corp=corp, kind="customer_contact", agent_id=1, secret=SECRET)

    response = admin_client.post(
        f"/admin/tenants/wecomapp/{app.pk}/change/",
        {"corp": corp.pk, "kind": "customer_contact", "agent_id": "7", "secret": ""},
    )

    assert response.status_code == 302
    app.refresh_from_db()
    assert app.secret == SECRET
    assert app.agent_id == 7


def test_invalid_aes_key_is_refused_with_a_reason(admin_client, tenant_a):
    corp = WeComCorp.objects.create(tenant=tenant_a, corp_id="wwalpha0003")

    response = admin_client.post(
        "/admin/tenants/wecomapp/add/",
        {
            "corp": corp.pk,
            "kind": "customer_contact",
            "agent_id": "1",
            "secret": SECRET,
            "encoding_aes_key": "too-short",
        },
    )

    assert response.status_code == 200
    assert "43" in response.content.decode()
    assert not WeComApp.objects.filter(corp=corp).exists()
