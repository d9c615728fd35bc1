"""POST /api/v1/customers/{id}/erase/: a read-write key, the external_userid repeated."""

from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from contacts.models import Customer
from privacy.erasure import ERASED_ACTION


def erase(client, pk, key, body):
    return client.post(
        f"/api/v1/customers/{pk}/erase/", body, content_type="application/json", **key
    )


def test_a_read_write_key_erases_with_the_external_userid_repeated(alpha, client_a, write_key):
    customer = Customer.objects.create(external_userid="wmAPI0001", name="赵六")

    response = erase(client_a, customer.pk, write_key, {"external_userid": "wmAPI0001"})

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == customer.pk
    assert body["erased"] is True
    assert body["external_userid"].startswith("erased_")
    assert body["rows"]["contacts_customer"] == 1
    with schema_context("alpha"):
        customer.refresh_from_db()
        assert customer.name == ""
        entry = AuditLogEntry.objects.get(action=ERASED_ACTION)
        assert entry.actor_type == "api_key"
        assert entry.detail["external_userid"] == "wmAPI0001"
    again = erase(client_a, customer.pk, write_key, {"external_userid": "wmAPI0001"})
    assert again.status_code == 409
    assert again.json()["detail"]


def test_a_wrong_or_missing_confirmation_erases_nothing(alpha, client_a, write_key):
    customer = Customer.objects.create(external_userid="wmAPI0002", name="钱七")
    Customer.objects.create(external_userid="wmAPI0003", name="孙八")

    wrong = erase(client_a, customer.pk, write_key, {"external_userid": "wmAPI0003"})
    missing = erase(client_a, customer.pk, write_key, {})

    assert wrong.status_code == 400
    assert "external_userid" in wrong.json()
    assert missing.status_code == 400
    with schema_context("alpha"):
        assert set(Customer.objects.values_list("name", flat=True)) == {"钱七", "孙八"}


def test_read_keys_and_unknown_ids_are_refused(alpha, client_a, read_key, write_key):
    customer = Customer.objects.create(external_userid="wmAPI0004", name="周九")

    body = {"external_userid": "wmAPI0004"}
    assert erase(client_a, customer.pk, read_key, body).status_code == 403
    assert erase(client_a, 987654, write_key, {"external_userid": "x"}).status_code == 404
    assert erase(client_a, "abc", write_key, {"external_userid": "x"}).status_code in (400, 404)
    assert erase(client_a, customer.pk, {}, body).status_code == 401
    with schema_context("alpha"):
        assert Customer.objects.get(pk=customer.pk).name == "周九"


def test_the_endpoints_are_in_the_schema(alpha, client_a):
    spec = client_a.get("/api/schema/?format=json").json()

    assert "post" in spec["paths"]["/api/v1/customers/{id}/erase/"]
    assert "get" in spec["paths"]["/api/v1/customers/{id}/export/"]
