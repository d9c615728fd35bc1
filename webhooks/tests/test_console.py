"""The webhooks console (admins): the endpoints list in a fixed number of queries, creating
one with its secret shown once, the SSRF refusal on the form, the detail page with the
delivery log, a test event, rotation, redelivery, re-enabling after an automatic disabling
whose notice every console page shows, roles and tenants."""

import re

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from handover.tests.test_console import body_of, in_english, login, text_of
from webhooks.delivery import delivery_send
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_disable_after_failures, endpoint_test
from webhooks.tests.helpers import Receiver, make_endpoint


@pytest.fixture
def admin(db, client_a):
    user = login(client_a, "admin")
    in_english(client_a)
    return user


@pytest.mark.parametrize("count", [2, 9])
def test_the_list_costs_the_same_queries_whatever_the_endpoints(
    admin, client_a, django_assert_num_queries, count
):
    with schema_context("alpha"):
        for n in range(count):
            make_endpoint(f"https://crm.example.com/{n}", ["customer.added"])

    # routing (3), session and user (2) + the endpoints
    with django_assert_num_queries(6):
        body = body_of(client_a.get("/webhooks/"))

    assert body.count("data-endpoint=") == count
    assert "https://crm.example.com/0" in body
    assert "whsec_" not in body


@pytest.mark.parametrize("count", [2, 9])
def test_the_delivery_log_costs_the_same_queries_whatever_its_length(
    admin, client_a, django_assert_num_queries, count
):
    with schema_context("alpha"):
        endpoint, _ = make_endpoint("https://crm.example.com/hook", ["customer.added"])
        for _n in range(count):
            endpoint_test(endpoint=endpoint)

    # routing (3), session and user (2) + the endpoint, a page of deliveries with events
    with django_assert_num_queries(7):
        body = body_of(client_a.get(f"/webhooks/{endpoint.pk}/"))

    assert body.count("data-delivery=") == count


def test_an_endpoint_is_created_and_its_secret_shown_once(admin, client_a):
    response = client_a.post(
        "/webhooks/new/",
        {
            "url": "https://crm.example.com/scrm",
            "description": "总部 CRM",
            "event_types": ["customer.added", "handover.finished"],
        },
    )

    body = body_of(response)
    secret = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', body).group(1)
    with schema_context("alpha"):
        endpoint = Endpoint.objects.get()
        assert endpoint.secret == secret
        assert endpoint.event_types == ["customer.added", "handover.finished"]
        assert endpoint.created_by == admin.username
    detail = body_of(client_a.get(f"/webhooks/{endpoint.pk}/"))
    assert secret not in detail
    assert secret[-4:] in detail  # the hint
    assert "总部 CRM" in detail


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
def test_the_form_refuses_a_private_target_with_the_reason(admin, client_a):
    response = client_a.post(
        "/webhooks/new/", {"url": "http://192.168.1.20/hook", "event_types": ["customer.added"]}
    )

    body = body_of(response)
    assert "192.168.1.20, an address on a private, local or reserved network" in body
    with schema_context("alpha"):
        assert not Endpoint.objects.exists()


def test_the_detail_page_shows_the_log_and_each_attempt(admin, client_a):
    with Receiver([500], reply=b"upstream broke") as receiver, schema_context("alpha"):
        endpoint, _ = make_endpoint(receiver.url, ["customer.added"])
        delivery = endpoint_test(endpoint=endpoint)
        delivery_send(delivery_id=delivery.pk)

    page = body_of(client_a.get(f"/webhooks/{endpoint.pk}/"))
    row = re.search(rf'<tr data-delivery="{delivery.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "webhook.test" in row
    assert "HTTP 500" in row
    assert "Waiting to be sent" in text_of(row)
    failed = body_of(client_a.get(f"/webhooks/{endpoint.pk}/?status=failed"))
    assert f'data-delivery="{delivery.pk}"' not in failed
    detail = body_of(client_a.get(f"/webhooks/deliveries/{delivery.pk}/"))
    attempt = re.search(r'<tr data-attempt="1">(.*?)</tr>', detail, re.S).group(1)
    assert "HTTP 500" in attempt
    assert "upstream broke" in attempt
    assert delivery.event.public_id in detail


def test_test_events_rotation_and_redelivery_from_the_console(admin, client_a):
    with schema_context("alpha"):
        endpoint, old = make_endpoint("https://crm.example.com/hook")

    tested = client_a.post(f"/webhooks/{endpoint.pk}/test/", follow=True)
    rotated = body_of(client_a.post(f"/webhooks/{endpoint.pk}/rotate/", {"expire_now": "on"}))
    with schema_context("alpha"):
        first = Delivery.objects.get()
    redelivered = client_a.post(f"/webhooks/deliveries/{first.pk}/redeliver/", follow=True)

    assert "Test event queued" in body_of(tested)
    new = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', rotated).group(1)
    with schema_context("alpha"):
        endpoint.refresh_from_db()
        assert endpoint.secret == new != old
        assert endpoint.signing_secrets() == [new]  # the old one stopped at once
        again = Delivery.objects.exclude(pk=first.pk).get()
        assert (again.trigger, again.redelivery_of_id) == ("redelivery", first.pk)
        assert again.requested_by == admin.username
    assert "Redelivery queued" in body_of(redelivered)


def test_an_automatic_disabling_is_noticed_on_every_console_page_until_enabled(
    admin, client_a, django_capture_on_commit_callbacks
):
    with schema_context("alpha"):
        endpoint, _ = make_endpoint("https://crm.example.com/down", ["customer.added"])
        Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=5)
        with django_capture_on_commit_callbacks(execute=True):
            endpoint_disable_after_failures(endpoint_id=endpoint.pk)

    home = text_of(body_of(client_a.get("/")))
    viewer_client = client_a.__class__(HTTP_HOST="alpha.localhost")
    login(viewer_client, "viewer")
    in_english(viewer_client)
    viewer_home = body_of(viewer_client.get("/customers/"))
    detail = text_of(body_of(client_a.get(f"/webhooks/{endpoint.pk}/")))

    assert "Webhook endpoints disabled after repeated failed deliveries" in home
    assert "https://crm.example.com/down" in home
    assert "Webhook endpoints disabled after repeated failed deliveries" in viewer_home
    assert f"/webhooks/{endpoint.pk}/" not in viewer_home  # not theirs to fix
    assert "Disabled automatically: 5 deliveries in a row failed" in detail
    with schema_context("alpha"):
        assert AuditLogEntry.objects.get(action="webhook.disabled").detail["by"] == "failures"

    with django_capture_on_commit_callbacks(execute=True):
        enabled = client_a.post(f"/webhooks/{endpoint.pk}/enable/", follow=True)

    assert "Endpoint enabled" in body_of(enabled)
    assert "disabled after repeated failed deliveries" not in body_of(client_a.get("/"))
    with schema_context("alpha"):
        assert Endpoint.objects.get().is_enabled


def test_only_admins_manage_webhooks(db, client_a):
    login(client_a, "operator")
    with schema_context("alpha"):
        endpoint, _ = make_endpoint("https://crm.example.com/hook")

    assert client_a.get("/webhooks/").status_code == 403
    assert client_a.get(f"/webhooks/{endpoint.pk}/").status_code == 403
    assert client_a.post(f"/webhooks/{endpoint.pk}/test/").status_code == 403
    assert "/webhooks/" not in body_of(client_a.get("/"))  # not in their navigation


def test_another_brands_endpoints_are_not_found(admin, client_a):
    with schema_context("beta"):
        endpoint, _ = make_endpoint("https://crm.example.com/beta")
        delivery = endpoint_test(endpoint=endpoint)

    assert client_a.get(f"/webhooks/{endpoint.pk}/").status_code == 404
    assert client_a.get(f"/webhooks/deliveries/{delivery.pk}/").status_code == 404
    assert client_a.post(f"/webhooks/deliveries/{delivery.pk}/redeliver/").status_code == 404
    assert "crm.example.com/beta" not in body_of(client_a.get("/webhooks/"))


def test_editing_and_deleting_an_endpoint(admin, client_a):
    with schema_context("alpha"):
        endpoint, _ = make_endpoint("https://crm.example.com/hook", ["customer.added"])

    edit = client_a.get(f"/webhooks/{endpoint.pk}/edit/")
    saved = client_a.post(
        f"/webhooks/{endpoint.pk}/edit/",
        {"url": "https://crm.example.com/v2", "event_types": ["customer.tagged"]},
        follow=True,
    )
    with schema_context("alpha"):
        endpoint.refresh_from_db()
        assert endpoint.url == "https://crm.example.com/v2"
        assert endpoint.event_types == ["customer.tagged"]
    deleted = client_a.post(f"/webhooks/{endpoint.pk}/delete/", follow=True)

    assert 'value="https://crm.example.com/hook"' in body_of(edit)
    assert "Endpoint saved." in body_of(saved)
    assert "Endpoint deleted." in body_of(deleted)
    with schema_context("alpha"):
        assert not Endpoint.objects.exists()
        assert AuditLogEntry.objects.filter(action="webhook.deleted").count() == 1
