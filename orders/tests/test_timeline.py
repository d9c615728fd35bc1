"""Orders and custom events on a customer's timeline: the console's customer page and the
guide sidebar."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from conftest import tenant_host
from contacts.models import Customer
from contacts.tests.factories import CustomerFactory, StoreFactory
from contacts.tests.test_console import body_of, in_english, login
from orders.tests.conftest import api_key
from orders.tests.helpers import ago, push_event, push_order
from sidebar.tests.helpers import AMY_CUSTOMER, CORP_ID, header, setup_brand, sign_in
from sidebar.tests.test_browser import PHONE, PHONE_CHAT_WINDOW, live_sidebar, shot

__all__ = ["live_sidebar"]  # the platform over HTTP for the browser (a fixture)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_customer_page_shows_orders_refunds_and_events(db, client_a, write_key):
    with schema_context("alpha"):
        customer = CustomerFactory(external_userid="wmPAGE", name="王小明")
        StoreFactory(department_id=31, name="静安寺店")
    push_order(
        client_a,
        write_key,
        order_id="SO-77",
        source="erp",
        external_userid="wmPAGE",
        amount="299.50",
        store=31,
        items=[{"name": "口红", "quantity": 1}, {"name": "面霜", "quantity": 2}],
    )
    client_a.post(
        "/api/v1/orders/",
        {"order_id": "SO-77", "source": "erp", "status": "refunded"},
        content_type="application/json",
        **write_key,
    )
    push_event(
        client_a,
        write_key,
        type="coupon_used",
        external_userid="wmPAGE",
        properties={"coupon": "NEW100"},
    )
    login(client_a, "viewer")
    in_english(client_a)

    text = text_of(body_of(client_a.get(f"/customers/{customer.pk}/")))

    # when, what, guide (none), details
    assert (
        "2024-03-01 10:00:00 Order — ¥299.50 · 口红 ×1, 面霜 ×2 · 静安寺店 · order SO-77 (erp)"
        in text
    )
    assert "Order refunded — ¥299.50" in text
    assert "Custom event — coupon_used coupon NEW100" in text
    assert "Orders of this customer" in text


def test_the_orders_list_links_back_from_the_customer_page(db, client_a, write_key):
    with schema_context("alpha"):
        customer = CustomerFactory(external_userid="wmLINK")
    push_order(client_a, write_key, order_id="SO-78", external_userid="wmLINK")
    push_order(client_a, write_key, order_id="SO-79", external_userid="wmOTHER")
    login(client_a, "viewer")

    page = body_of(client_a.get(f"/customers/{customer.pk}/"))
    [link] = re.findall(r'href="(/orders/\?q=[^"]+)"', page)
    listed = body_of(client_a.get(link))

    assert "SO-78" in listed
    assert "SO-79" not in listed


@pytest.fixture
def brand(db, wecom_sandbox, tenant_a):
    return setup_brand(wecom_sandbox, tenant_a)


def test_the_sidebar_timeline_shows_orders_and_events_at_the_same_query_cost(
    brand, client_a, wecom_sandbox, django_assert_num_queries
):
    key = api_key(sees_phones=True)
    amy = header(sign_in(client_a, wecom_sandbox, "amy"))
    url = f"/sidebar/api/customers/{AMY_CUSTOMER}/"
    client_a.cookies["django_language"] = "en"
    with django_assert_num_queries(12):
        assert client_a.get(url, **amy).status_code == 200

    # the customer's orders arrive by the remark phone amy entered, and an event by id
    push_order(
        client_a,
        key,
        order_id="SB-1",
        phone="138 0000 0001",
        amount="88.00",
        items=[{"name": "围巾", "quantity": 1}],
        paid_at=ago(minutes=2).isoformat(),
    )
    for n in range(30):
        push_order(
            client_a,
            key,
            order_id=f"SB-OLD-{n}",
            external_userid=AMY_CUSTOMER,
            paid_at="2023-01-01T10:00:00+08:00",
        )
    push_event(
        client_a,
        key,
        type="member_joined",
        external_userid=AMY_CUSTOMER,
        properties={"level": "gold"},
        occurred_at=ago(minutes=1).isoformat(),
    )

    with django_assert_num_queries(12):
        answer = client_a.get(url, **amy)

    events = [e for e in answer.json()["timeline"]["events"] if e["kind"] != "added"]
    kinds = [(e["kind"], e["label"]) for e in events[:2]]
    assert kinds == [("custom", "Custom event"), ("order", "Order")]
    assert events[0]["data"] == {"type": "member_joined", "properties": {"level": "gold"}}
    assert events[1]["data"]["amount"] == "88.00"
    assert events[1]["data"]["items"] == "围巾 ×1"
    assert events[1]["data"]["order_id"] == "SB-1"
    with schema_context("alpha"):
        customer = Customer.objects.get(external_userid=AMY_CUSTOMER)
        assert customer.orders.count() == 31


@pytest.mark.slow
def test_a_guide_sees_the_customers_orders_in_the_sidebar(
    live_sidebar, wecom_sandbox, tenant_a, chromium
):
    brand = setup_brand(wecom_sandbox, tenant_a, trusted=["alpha.localhost"])
    key = api_key()
    client = Client(HTTP_HOST=tenant_host("alpha"))
    push_order(
        client,
        key,
        order_id="SB-9",
        external_userid=AMY_CUSTOMER,
        amount="520.00",
        items=[{"name": "香水", "quantity": 1}],
        paid_at=ago(minutes=3).isoformat(),
    )
    push_event(
        client,
        key,
        type="coupon_used",
        external_userid=AMY_CUSTOMER,
        properties={"coupon": "VIP50"},
        occurred_at=ago(minutes=2).isoformat(),
    )
    chat = brand.control.chat_url(CORP_ID, "amy", AMY_CUSTOMER, f"{live_sidebar}/sidebar/")

    with chromium() as browser:
        page = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
        page.route("https://**/*", lambda route: route.abort())
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(chat, timeout=30_000)
        page.add_style_tag(content=PHONE_CHAT_WINDOW)
        sidebar = page.frame_locator("#sidebar")
        ready = sidebar.locator("#app[data-ready='1']")
        picker = sidebar.locator("a.member", has_text="(amy)")
        picker.or_(ready).wait_for(timeout=30_000)
        if picker.count():
            picker.click()  # the sandbox asks who is signed in (see sidebar's test)
        ready.wait_for(timeout=30_000)

        sidebar.locator("#tab-timeline").click()
        order = sidebar.locator("#timeline li.order")
        event = sidebar.locator("#timeline li.custom")
        order.wait_for()
        assert "¥520.00 · 香水 ×1 · #SB-9" in order.inner_text()
        assert "coupon_used · coupon: VIP50" in event.inner_text()
        shot(page, "orders-timeline")
    assert errors == []
