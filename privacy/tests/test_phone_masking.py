"""Phone numbers masked by role everywhere they show: whoever may not see them (a viewer in
the console, an API key without the phone permission, a guide looking at a colleague's
customer in the sidebar) sees 138****5678 and cannot find a customer by a number."""

import re
from html import unescape

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.tests.factories import UserFactory
from contacts.models import Customer, CustomerEvent, Guide, Relation
from contacts.services import customer_event_record
from contacts.tests.factories import StoreFactory
from orders.models import CustomEvent, Order
from sidebar.models import SidebarSettings
from sidebar.tests.helpers import BOB_CUSTOMER, header, in_english, setup_brand, sign_in
from tagging.models import BulkTagJob, BulkTagRow

FULL = ("13800138000", "13900139000", "13700137000", "13600136000")
MASKED = ("138****8000", "139****9000", "137****7000", "136****6000")


def login(client, role: str) -> None:
    with schema_context("alpha"):
        user = UserFactory(role=role)
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return unescape(response.content.decode())


@pytest.fixture
def held(alpha):
    """A customer with remark phones, a remark edit on the timeline, an unmatched order
    and a custom event carrying phones, and a bulk tagging row by phone."""
    amy = Guide.objects.create(userid="amy", name="Amy")
    customer = Customer.objects.create(external_userid="wmMASK0001", name="陈一")
    relation = Relation.objects.create(
        guide=amy,
        customer=customer,
        remark_mobiles=["13800138000"],
        added_at=timezone.now(),
    )
    customer_event_record(
        customer_id=customer.pk,
        kind=CustomerEvent.Kind.EDITED,
        occurred_at=timezone.now(),
        guide_id=amy.pk,
        data={"remark_mobiles": ["13800138000"], "before": {"remark_mobiles": ["13900139000"]}},
    )
    Order.objects.create(order_id="U-1", amount="9.90", paid_at=timezone.now(), phone="13700137000")
    CustomEvent.objects.create(
        customer=customer,
        type="coupon_used",
        occurred_at=timezone.now(),
        properties={"phone": "13600136000"},
    )
    job = BulkTagJob.objects.create(action="add", tag_ids=["etX"], source="csv")
    BulkTagRow.objects.create(
        job=job, line=2, value="13800138000", relation=relation, status="failed", error="x"
    )
    return {"customer": customer, "guide": amy, "job": job}


def console_pages(held) -> list[str]:
    customer, guide = held["customer"], held["guide"]
    return [
        "/customers/",
        f"/customers/{customer.pk}/",
        f"/guides/{guide.pk}/",
        "/orders/",
        "/orders/events/",
        f"/tags/bulk/{held['job'].pk}/",
    ]


def test_a_viewer_sees_every_number_masked_in_the_console(held, client_a):
    login(client_a, "viewer")

    for path in console_pages(held):
        text = page(client_a, path)
        assert not [number for number in FULL if number in text], path
    assert "138****8000" in page(client_a, f"/customers/{held['customer'].pk}/")
    assert "137****7000" in page(client_a, "/orders/")
    assert "136****6000" in page(client_a, "/orders/events/")
    assert "138****8000" in page(client_a, f"/tags/bulk/{held['job'].pk}/")


def test_operators_and_admins_see_them_in_full(held, client_a):
    login(client_a, "operator")

    text = page(client_a, f"/customers/{held['customer'].pk}/")

    assert "13800138000" in text
    assert "13900139000" in text  # the number before the edit
    assert "13700137000" in page(client_a, "/orders/")


def test_a_viewer_cannot_find_whose_a_number_is(held, client_a):
    login(client_a, "viewer")

    text = page(client_a, "/customers/?q=13800138000")

    assert "Searching by phone number is for admins and operators." in text
    login(client_a, "operator")
    found = page(client_a, "/customers/?q=13800138000")
    assert "Searching by phone number" not in found
    assert f'href="/customers/{held["customer"].pk}/"' in found


def test_viewers_download_no_csv_with_numbers(held, client_a):
    login(client_a, "viewer")

    assert client_a.get("/customers/export.csv").status_code == 403
    assert client_a.get(f"/tags/bulk/{held['job'].pk}/report.csv").status_code == 403
    assert client_a.get(f"/privacy/customers/{held['customer'].pk}/export.json").status_code == 403


def test_a_key_without_the_phone_permission_reads_them_masked(held, client_a, masked_key):
    customer = held["customer"]
    answers = [
        client_a.get(path, **masked_key).content.decode()
        for path in (
            "/api/v1/customers/",
            f"/api/v1/customers/{customer.pk}/",
            f"/api/v1/customers/{customer.pk}/timeline/",
            "/api/v1/relations/",
            "/api/v1/orders/",
            "/api/v1/events/",
            f"/api/v1/bulk-tag-jobs/{held['job'].pk}/rows/",
            f"/api/v1/customers/{customer.pk}/export/",
        )
    ]

    for answer in answers:
        assert not [number for number in FULL if number in answer], answer[:300]
    assert any("138****8000" in answer for answer in answers)
    assert "138****8000" in answers[6]  # the bulk tagging row's CSV cell
    searched = client_a.get("/api/v1/customers/?q=13800138000", **masked_key)
    assert searched.status_code == 400


def test_a_key_with_the_permission_reads_them_in_full(held, client_a, write_key):
    rows = client_a.get(f"/api/v1/bulk-tag-jobs/{held['job'].pk}/rows/", **write_key).json()

    assert rows["results"][0]["value"] == "13800138000"


@pytest.fixture
def brand(db, wecom_sandbox, tenant_a):
    return setup_brand(wecom_sandbox, tenant_a)


def test_a_guide_sees_their_own_numbers_and_colleagues_masked_in_the_sidebar(
    brand, client_a, wecom_sandbox
):
    with schema_context("alpha"):
        store = StoreFactory()
        Guide.objects.filter(userid__in=["amy", "bob"]).update(store=store)
        SidebarSettings.objects.create(guide_scope=SidebarSettings.Scope.STORE)
        bobs = Relation.objects.get(guide__userid="bob", customer__external_userid=BOB_CUSTOMER)
        Relation.objects.filter(pk=bobs.pk).update(remark_mobiles=["13700137000"])
        customer_event_record(
            customer_id=bobs.customer_id,
            kind=CustomerEvent.Kind.EDITED,
            occurred_at=timezone.now(),
            guide_id=bobs.guide_id,
            data={"remark_mobiles": ["13700137000"]},
        )
    in_english(client_a)
    amy = header(sign_in(client_a, wecom_sandbox, "amy"))
    bob = header(sign_in(client_a, wecom_sandbox, "bob"))
    path = f"/sidebar/api/customers/{BOB_CUSTOMER}/"

    seen_by_amy = client_a.get(path, **amy).json()
    seen_by_bob = client_a.get(path, **bob).json()

    assert seen_by_amy["card"]["phones"] == ["137****7000"]
    assert "13700137000" not in str(seen_by_amy)
    assert seen_by_bob["card"]["phones"] == ["13700137000"]
    edited = [e for e in seen_by_bob["timeline"]["events"] if e["kind"] == "edited"]
    assert edited[0]["data"]["remark_mobiles"] == ["13700137000"]
    own = client_a.get("/sidebar/api/customers/wmAMYPAGE0001/", **amy).json()
    assert own["card"]["phones"] == ["13800000001"]


def test_masked_numbers_keep_the_shape_operators_know(held):
    from contacts.privacy import mask_phone

    assert [mask_phone(number) for number in FULL] == list(MASKED)
    assert re.fullmatch(r"\d{3}\*{4}\d{4}", mask_phone("13800138000"))
