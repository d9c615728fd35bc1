"""The console's orders pages: lists with filters at a constant query cost, an order's
page, and who may import."""

import re

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from contacts.tests.factories import CustomerFactory, StoreFactory
from contacts.tests.test_console import body_of, in_english, login
from orders.models import CustomEvent, Order, OrderImport

ORDER_LINK = re.compile(r'href="/orders/(\d+)/"')


@pytest.fixture
def viewer(db, client_a):
    in_english(client_a)
    return login(client_a, "viewer")


def orders(n: int, customers=(), **fields) -> list[Order]:
    """n orders, newest first, spread over `customers` (each with its own row to join)."""
    with schema_context("alpha"):
        store = StoreFactory(name="淮海路店")
        return Order.objects.bulk_create(
            Order(
                order_id=f"O-{i}",
                amount="12.50",
                paid_at=timezone.now() - timezone.timedelta(days=i),
                store_id=store.pk,
                items=[{"name": "口红", "quantity": 2}],
                customer=customers[i % len(customers)] if customers else None,
                **fields,
            )
            for i in range(n)
        )


def test_the_orders_page_lists_orders_with_their_customer_or_why_they_wait(client_a, viewer):
    with schema_context("alpha"):
        customer = CustomerFactory(name="陈女士")
    orders(1, customers=[customer], matched_by="phone", phone="13812345678")
    with schema_context("alpha"):
        Order.objects.create(
            order_id="WAIT-1",
            amount=5,
            paid_at=timezone.now(),
            phone="13911112222",
            match_problem="ambiguous_phone",
        )

    body = body_of(client_a.get("/orders/"))

    assert "陈女士" in body
    assert "Phone number" in body  # matched by
    assert "¥12.50" in body
    assert "口红 ×2" in body
    assert "淮海路店" in body
    assert "Waiting for their customer" in body
    assert "The phone number belongs to several customers" in body
    assert "139****2222" in body  # viewers never see full phone numbers
    assert "13911112222" not in body


def test_the_orders_page_filters(client_a, viewer):
    with schema_context("alpha"):
        customer = CustomerFactory(external_userid="wmFILTER")
    orders(3, customers=[customer])
    with schema_context("alpha"):
        Order.objects.create(
            order_id="LONE", amount=1, paid_at=timezone.now(), external_userid="wmX"
        )

    def listed(query: str) -> int:
        return len(ORDER_LINK.findall(body_of(client_a.get(f"/orders/{query}"))))

    assert listed("") == 4
    assert listed("?q=wmFILTER") == 3
    assert listed("?q=LONE") == 1
    assert listed("?matched=no") == 1
    assert listed("?status=refunded") == 0
    day = (timezone.localdate() - timezone.timedelta(days=1)).isoformat()
    assert listed(f"?matched=yes&date_from={day}&date_to={day}") == 1
    body = body_of(client_a.get("/orders/?date_from=tomorrow"))
    assert "Filters with errors were ignored." in body
    assert len(ORDER_LINK.findall(body)) == 4


@pytest.mark.parametrize("rows", [1, 30])
def test_the_orders_page_costs_the_same_queries_for_any_page(
    client_a, viewer, rows, django_assert_num_queries
):
    with schema_context("alpha"):
        customers = [CustomerFactory() for _ in range(3)]
    orders(rows, customers=customers)

    # session, user, the tenant (3), the store filter's choices, the page
    with django_assert_num_queries(7):
        body = body_of(client_a.get("/orders/"))

    assert len(ORDER_LINK.findall(body)) == rows


def test_the_orders_page_pages_through_keyset_links(client_a, viewer):
    orders(55)

    first = body_of(client_a.get("/orders/"))
    [next_link] = re.findall(r'<a href="([^"]*)" rel="next">', first)
    second = body_of(client_a.get("/orders/" + next_link))

    assert len(ORDER_LINK.findall(first)) == 50
    assert len(ORDER_LINK.findall(second)) == 5
    assert not set(ORDER_LINK.findall(first)) & set(ORDER_LINK.findall(second))


def test_an_orders_page_shows_its_items(client_a, viewer):
    [order] = orders(1)

    body = body_of(client_a.get(f"/orders/{order.pk}/"))

    assert "O-0" in body
    assert "口红" in body
    assert client_a.get("/orders/999999/").status_code == 404


@pytest.mark.parametrize("rows", [1, 30])
def test_the_events_page_costs_the_same_queries_for_any_page(
    client_a, viewer, rows, django_assert_num_queries
):
    with schema_context("alpha"):
        customer = CustomerFactory(name="赵先生")
        CustomEvent.objects.bulk_create(
            CustomEvent(
                type="coupon_used",
                properties={"coupon": f"C{i}", "mobile": "13800001111"},
                occurred_at=timezone.now(),
                customer_id=customer.pk,
            )
            for i in range(rows)
        )

    # session, user, the tenant (3), the page with its customers
    with django_assert_num_queries(6):
        body = body_of(client_a.get("/orders/events/"))

    assert body.count("coupon_used") == rows
    assert "赵先生" in body
    assert "138****1111" in body


@pytest.mark.parametrize("rows", [1, 20])
def test_the_imports_page_costs_the_same_queries_for_any_page(
    client_a, viewer, rows, django_assert_num_queries
):
    with schema_context("alpha"):
        OrderImport.objects.bulk_create(OrderImport(file_name=f"f{i}.csv") for i in range(rows))

    # session, user, the tenant (3), the page, the counts of its imports
    with django_assert_num_queries(7):
        body = body_of(client_a.get("/orders/imports/"))

    assert len(re.findall(r'href="/orders/imports/\d+/"', body)) == rows


def test_the_navigation_leads_to_orders(client_a, viewer):
    body = body_of(client_a.get("/customers/"))

    assert 'href="/orders/"' in body
    assert "Orders &amp; events" in client_a.get("/customers/").content.decode()
