"""The console's privacy pages: the erasure's confirmation and action on the customer page,
the retention settings (admins only, audit-logged), the navigation entry."""

import re
from html import unescape

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import UserFactory
from contacts.models import Customer, Guide, Relation
from privacy.erasure import ERASED_ACTION
from privacy.models import PrivacySettings
from privacy.tests.helpers import ago


def login(client, role: str, *, english: bool = True):
    with schema_context("alpha"):
        user = UserFactory(role=role)
    client.force_login(user)
    if english:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return user


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    html = unescape(response.content.decode())
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def customer(alpha):
    amy = Guide.objects.create(userid="amy", name="Amy")
    bob = Guide.objects.create(userid="bob", name="Bob")
    customer = Customer.objects.create(external_userid="wmCONSOLE0001", name="王五")
    Relation.objects.create(
        guide=amy,
        customer=customer,
        remark="王五VIP",
        remark_mobiles=["13800138000"],
        added_at=ago(days=5),
    )
    Relation.objects.create(
        guide=bob,
        customer=customer,
        added_at=ago(days=9),
        status=Relation.Status.DELETED_BY_GUIDE,
        deleted_at=ago(days=1),
    )
    return customer


def test_the_confirmation_says_what_goes_what_stays_and_who_still_has_them(customer, client_a):
    login(client_a, "admin")

    page = text_of(client_a.get(f"/privacy/customers/{customer.pk}/erase/"))

    assert "Erase the personal information of 王五?" in page
    assert "This cannot be undone" in page
    assert "the remarks, descriptions and remark phones of 2 relations" in page
    assert "so that dashboards, channel statistics and the results of group sends" in page
    assert "1 guide still has this customer as a WeCom contact: Amy (amy)" in page
    assert "the guides must also delete the customer in WeCom" in page
    with schema_context("alpha"):
        assert Customer.objects.get(pk=customer.pk).name == "王五"  # nothing happened yet


def test_the_confirmation_is_chinese_first(customer, client_a):
    login(client_a, "admin", english=False)

    response = client_a.get(f"/privacy/customers/{customer.pk}/erase/")

    assert response.status_code == 200
    assert 'lang="zh-hans"' in response.content.decode()


def test_erasing_needs_the_box_ticked(customer, client_a):
    login(client_a, "admin")

    page = text_of(client_a.post(f"/privacy/customers/{customer.pk}/erase/", {}))

    assert "Tick the box to confirm the erasure." in page
    with schema_context("alpha"):
        assert Customer.objects.get(pk=customer.pk).name == "王五"


def test_an_admin_erases_and_lands_on_the_anonymised_customer(customer, client_a):
    admin = login(client_a, "admin")

    response = client_a.post(
        f"/privacy/customers/{customer.pk}/erase/", {"confirm": "on"}, follow=True
    )

    page = text_of(response)
    assert response.redirect_chain[-1][0] == f"/customers/{customer.pk}/"
    assert "Personal information erased. Ask the guides to delete the customer in WeCom." in page
    assert "This customer's personal information was erased." in page
    assert "王五" not in page
    assert "13800138000" not in page
    assert "Erase personal information" not in page  # nothing left to erase
    with schema_context("alpha"):
        entry = AuditLogEntry.objects.get(action=ERASED_ACTION)
        assert (entry.actor_id, entry.detail["external_userid"]) == (
            str(admin.pk),
            "wmCONSOLE0001",
        )
    again = client_a.post(f"/privacy/customers/{customer.pk}/erase/", {"confirm": "on"})
    assert again.status_code == 302
    with schema_context("alpha"):
        assert AuditLogEntry.objects.filter(action=ERASED_ACTION).count() == 1


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_admins_erase(customer, client_a, role):
    login(client_a, role)

    response = client_a.post(f"/privacy/customers/{customer.pk}/erase/", {"confirm": "on"})

    assert response.status_code == 403
    with schema_context("alpha"):
        assert Customer.objects.get(pk=customer.pk).name == "王五"


def test_unknown_customers_are_404(alpha, client_a):
    login(client_a, "admin")

    assert client_a.get("/privacy/customers/424242/erase/").status_code == 404
    assert client_a.get("/privacy/customers/424242/export.json").status_code == 404


def test_admins_set_the_retention_periods_and_the_change_is_audit_logged(alpha, client_a):
    admin = login(client_a, "admin")
    page = text_of(client_a.get("/privacy/"))
    assert "Keep deleted relations for (days)" in page
    assert 'value="365"' in client_a.get("/privacy/").content.decode()
    assert 'value="30"' in client_a.get("/privacy/").content.decode()

    response = client_a.post(
        "/privacy/", {"relation_retention_days": "180", "callback_retention_days": "14"}
    )

    assert response.status_code == 302
    with schema_context("alpha"):
        options = PrivacySettings.objects.get()
        assert (options.relation_retention_days, options.callback_retention_days) == (180, 14)
        entry = AuditLogEntry.objects.get(action="privacy.settings_changed")
        assert entry.actor_id == str(admin.pk)
        assert entry.detail == {
            "relation_retention_days": {"before": 365, "after": 180},
            "callback_retention_days": {"before": 30, "after": 14},
        }


def test_bad_periods_are_refused(alpha, client_a):
    login(client_a, "admin")

    page = text_of(
        client_a.post("/privacy/", {"relation_retention_days": "0", "callback_retention_days": "x"})
    )

    assert "Ensure this value is greater than or equal to 1." in page
    with schema_context("alpha"):
        assert not AuditLogEntry.objects.filter(action="privacy.settings_changed").exists()


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_admins_see_and_change_the_settings(alpha, client_a, role):
    login(client_a, role)

    assert client_a.get("/privacy/").status_code == 403
    assert client_a.post("/privacy/", {"relation_retention_days": "1"}).status_code == 403
    home = client_a.get("/customers/").content.decode()
    assert 'href="/privacy/"' not in home


def test_the_settings_group_of_the_navigation_has_privacy_for_admins(alpha, client_a):
    login(client_a, "admin")

    assert 'href="/privacy/"' in client_a.get("/customers/").content.decode()
