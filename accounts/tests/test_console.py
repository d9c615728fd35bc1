import re

from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.tests.factories import AuditLogEntryFactory, UserFactory, bearer


def login(client, role: str):
    with schema_context("alpha"):
        user = UserFactory(role=role)
        client.force_login(user)  # session and last_login live in the tenant's schema
    return user


def test_admin_creates_an_api_key_shown_once(db, client_a):
    login(client_a, "admin")

    response = client_a.post("/accounts/api-keys/", {"name": "ERP 同步", "scope": "read"})

    body = response.content.decode()
    match = re.search(r'<code id="new-key">(scrm_\w+_[\w-]+)</code>', body)
    assert match, "the new key is shown"
    raw_key = match.group(1)
    assert "请立即复制" in body
    # it works on the API, and is never shown again
    assert client_a.get("/api/v1/api-keys/", **bearer(raw_key)).status_code == 200
    assert raw_key not in client_a.get("/accounts/api-keys/").content.decode()
    with schema_context("alpha"):
        key = APIKey.objects.get()
        assert raw_key not in key.key_hash
        assert AuditLogEntry.objects.filter(action="api_key.created").count() == 1


def test_admin_revokes_a_key(db, client_a):
    login(client_a, "admin")
    body = client_a.post("/accounts/api-keys/", {"name": "ERP", "scope": "read"}).content
    raw_key = re.search(rb'<code id="new-key">([^<]+)</code>', body).group(1).decode()
    with schema_context("alpha"):
        key = APIKey.objects.get()

    response = client_a.post(f"/accounts/api-keys/{key.pk}/revoke/", follow=True)

    assert "已吊销" in response.content.decode()
    assert client_a.get("/api/v1/api-keys/", **bearer(raw_key)).status_code == 401
    with schema_context("alpha"):
        assert AuditLogEntry.objects.filter(action="api_key.revoked").count() == 1


def test_viewer_cannot_manage_keys_or_read_the_audit_log(db, client_a):
    login(client_a, "viewer")

    assert client_a.get("/accounts/api-keys/").status_code == 403
    assert client_a.post("/accounts/api-keys/", {"name": "x", "scope": "read"}).status_code == 403
    assert client_a.get("/accounts/audit-log/").status_code == 403
    with schema_context("alpha"):
        assert not APIKey.objects.exists()


def test_audit_log_page_lists_entries(db, client_a, django_assert_num_queries):
    login(client_a, "admin")
    with schema_context("alpha"):
        for index in range(30):
            AuditLogEntryFactory(action="api_key.created", actor_label=f"op{index}")

    # routing (search_path, domain, search_path), session, user, count, page: constant
    with django_assert_num_queries(7):
        response = client_a.get("/accounts/audit-log/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "创建 API 密钥" in body
    assert "op29" in body
    assert "op0" in body


def test_api_keys_page_query_count_does_not_grow(db, client_a, django_assert_num_queries):
    admin = login(client_a, "admin")
    with schema_context("alpha"):
        for index in range(20):
            APIKey.objects.create(
                name=f"k{index}",
                prefix=f"{index:08d}",
                key_hash="x",
                scope="read",
                created_by=admin,
            )

    # routing (3), session, user, keys with their creators in one query
    with django_assert_num_queries(6):
        response = client_a.get("/accounts/api-keys/")

    assert response.content.decode().count("scrm_000000") == 20
