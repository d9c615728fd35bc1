"""Rotating an API key without downtime: the replacement works at once, the old key keeps
working for the overlap (24 hours) and is refused after; from the console (an admin) or by
the key itself through the API."""

import re
from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.tests.factories import bearer, make_api_key
from accounts.tests.test_console import login


def works(client, raw_key: str) -> bool:
    status = client.get("/api/v1/api-keys/", **bearer(raw_key)).status_code
    assert status in (200, 401), status
    return status == 200


def end_overlap(prefix: str) -> None:
    """The overlap has passed (as if 24 hours went by)."""
    with schema_context("alpha"):
        APIKey.objects.filter(prefix=prefix).update(
            revoked_at=timezone.now() - timedelta(seconds=1)
        )


def test_a_key_rotates_itself_and_both_work_until_the_overlap_ends(db, client_a):
    with schema_context("alpha"):
        old, raw_old = make_api_key(scope=APIKey.Scope.READ, name="ERP")
        APIKey.objects.filter(pk=old.pk).update(sees_phones=True)

    # a read-only key may rotate itself
    response = client_a.post(f"/api/v1/api-keys/{old.pk}/rotate/", **bearer(raw_old))

    assert response.status_code == 201, response.content
    body = response.json()
    raw_new = body["key"]
    assert body["api_key"]["name"] == "ERP"
    assert body["api_key"]["scope"] == "read"
    assert body["api_key"]["sees_phones"] is True
    valid_until = body["previous_key_valid_until"]
    assert (
        timedelta(hours=23, minutes=59)
        < (timezone.datetime.fromisoformat(valid_until) - timezone.now())
        <= timedelta(hours=24)
    )
    assert works(client_a, raw_old)
    assert works(client_a, raw_new)
    with schema_context("alpha"):
        entry = AuditLogEntry.objects.get(action="api_key.rotated")
        assert entry.detail["replacement"] == body["api_key"]["prefix"]

    end_overlap(old.prefix)

    assert not works(client_a, raw_old)
    assert works(client_a, raw_new)


def test_a_key_may_rotate_only_itself_and_only_once(db, client_a):
    with schema_context("alpha"):
        mine, raw_mine = make_api_key(scope=APIKey.Scope.READ_WRITE)
        other, _ = make_api_key(name="CRM")

    other_answer = client_a.post(f"/api/v1/api-keys/{other.pk}/rotate/", **bearer(raw_mine))
    first = client_a.post(f"/api/v1/api-keys/{mine.pk}/rotate/", **bearer(raw_mine))
    again = client_a.post(f"/api/v1/api-keys/{mine.pk}/rotate/", **bearer(raw_mine))

    assert other_answer.status_code == 403
    assert other_answer.json()["detail"] == "API 密钥只能轮换自身。"
    assert first.status_code == 201
    assert again.status_code == 409
    assert "已轮换" in again.json()["detail"]
    with schema_context("alpha"):
        assert APIKey.objects.count() == 3  # mine, other, one replacement
        other.refresh_from_db()
        assert other.revoked_at is None


def test_an_admin_rotates_a_key_in_the_console(db, client_a):
    login(client_a, "admin")
    with schema_context("alpha"):
        old, raw_old = make_api_key(name="ERP")

    response = client_a.post(f"/accounts/api-keys/{old.pk}/rotate/")

    page = response.content.decode()
    raw_new = re.search(r'<code id="new-key">(scrm_\w+_[\w-]+)</code>', page).group(1)
    assert "已轮换" in page  # the message, and the old key's status: works until …
    assert "有效至" in page
    assert works(client_a, raw_old)
    assert works(client_a, raw_new)
    # the replacement is never shown again; rotating the old key again is refused
    again = client_a.post(f"/accounts/api-keys/{old.pk}/rotate/", follow=True)
    assert raw_new not in again.content.decode()
    assert "已轮换" in again.content.decode()
    with schema_context("alpha"):
        assert APIKey.objects.count() == 2

    # revoking the rotated key ends its overlap at once
    client_a.post(f"/accounts/api-keys/{old.pk}/revoke/")
    assert not works(client_a, raw_old)
    assert works(client_a, raw_new)


def test_an_operator_cannot_rotate_keys(db, client_a):
    login(client_a, "operator")
    with schema_context("alpha"):
        key, _raw_key = make_api_key()

    response = client_a.post(f"/accounts/api-keys/{key.pk}/rotate/")

    assert response.status_code == 403
    with schema_context("alpha"):
        assert APIKey.objects.count() == 1
