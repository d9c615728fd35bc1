"""The orders and events API, as an integrator's HTTP client sees it."""

from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from contacts.models import CustomerEvent
from contacts.tests.factories import CustomerFactory, RelationFactory, StoreFactory
from orders.models import CustomEvent, Order
from orders.tests.conftest import api_key
from orders.tests.helpers import counts, push_event, push_order, timeline_kinds


@pytest.fixture
def lina(db):
    """A customer known by external_userid, unionid and a remark phone."""
    with schema_context("alpha"):
        customer = CustomerFactory(external_userid="wmLINA", name="李娜", unionid="oLINA")
        RelationFactory(customer=customer, remark_mobiles=["13812345678"])
    return customer


# --- matching ------------------------------------------------------------------------------


def test_order_matched_by_external_userid(client_a, write_key, lina):
    with schema_context("alpha"):
        store = StoreFactory(department_id=7, name="徐汇店")

    response = push_order(
        client_a,
        write_key,
        order_id="SO-1",
        source="erp",
        external_userid="wmLINA",
        amount="299.50",
        store=7,
        items=[{"name": "口红", "quantity": 1, "price": "199.50"}, {"name": "面霜", "quantity": 2}],
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customer"]["external_userid"] == "wmLINA"
    assert body["matched_by"] == "external_userid"
    assert body["match_problem"] == ""
    assert body["amount"] == "299.50"
    assert body["store"]["name"] == "徐汇店"
    assert body["items"][0] == {"name": "口红", "quantity": 1, "price": "199.50"}
    with schema_context("alpha"):
        order = Order.objects.get(pk=body["id"])
        assert order.customer_id == lina.pk
        assert order.store == store
    [(kind, data)] = timeline_kinds(lina)
    assert kind == CustomerEvent.Kind.ORDER
    assert data["amount"] == "299.50"
    assert data["items"] == "口红 ×1, 面霜 ×2"
    assert data["store"] == "徐汇店"


def test_order_matched_by_unionid(client_a, write_key, lina):
    response = push_order(client_a, write_key, order_id="SO-2", unionid="oLINA")

    assert response.status_code == 201
    assert response.json()["matched_by"] == "unionid"
    assert response.json()["customer"]["id"] == lina.pk


@pytest.mark.parametrize("phone", ["13812345678", "+86 138-1234-5678", "0086 13812345678"])
def test_order_matched_by_a_remark_phone_however_it_is_written(client_a, write_key, lina, phone):
    response = push_order(client_a, write_key, order_id="SO-3", phone=phone)

    assert response.status_code == 201
    body = response.json()
    assert body["matched_by"] == "phone"
    assert body["customer"]["id"] == lina.pk
    assert body["phone"] == "13812345678"


def test_a_guide_typed_phone_with_prefix_and_spaces_still_matches(client_a, write_key):
    with schema_context("alpha"):
        customer = CustomerFactory()
        RelationFactory(customer=customer, remark_mobiles=["+86 139 0000 1111"])

    response = push_order(client_a, write_key, order_id="SO-4", phone="13900001111")

    assert response.json()["customer"]["id"] == customer.pk


def test_external_userid_wins_over_a_phone_of_someone_else(client_a, write_key, lina):
    with schema_context("alpha"):
        other = CustomerFactory(external_userid="wmOTHER")

    response = push_order(
        client_a, write_key, order_id="SO-5", external_userid="wmOTHER", phone="13812345678"
    )

    assert response.json()["matched_by"] == "external_userid"
    assert response.json()["customer"]["id"] == other.pk


def test_a_phone_two_customers_carry_matches_nobody_and_says_so(client_a, write_key, lina):
    with schema_context("alpha"):
        RelationFactory(customer=CustomerFactory(), remark_mobiles=["138 1234 5678"])

    response = push_order(client_a, write_key, order_id="SO-6", phone="13812345678")

    assert response.status_code == 201
    body = response.json()
    assert body["customer"] is None
    assert body["matched_by"] == "none"
    assert body["match_problem"] == "ambiguous_phone"
    assert timeline_kinds(lina) == []


def test_the_same_phone_on_two_guides_of_one_customer_is_not_ambiguous(client_a, write_key, lina):
    with schema_context("alpha"):
        RelationFactory(customer=lina, remark_mobiles=["+8613812345678"])

    response = push_order(client_a, write_key, order_id="SO-7", phone="13812345678")

    assert response.json()["customer"]["id"] == lina.pk


def test_an_unmatched_order_is_kept_and_said_so(client_a, write_key):
    response = push_order(client_a, write_key, order_id="SO-8", external_userid="wmNOBODY")

    assert response.status_code == 201
    body = response.json()
    assert body["customer"] is None
    assert body["match_problem"] == "not_found"
    with schema_context("alpha"):
        assert Order.objects.get(pk=body["id"]).external_userid == "wmNOBODY"


# --- upsert --------------------------------------------------------------------------------


def test_a_second_push_of_the_same_order_updates_it_and_a_refund_is_on_the_timeline(
    client_a, write_key, lina
):
    first = push_order(
        client_a, write_key, order_id="SO-9", source="tmall", external_userid="wmLINA"
    )
    before = counts()

    refund = client_a.post(
        "/api/v1/orders/",
        {"order_id": "SO-9", "source": "tmall", "status": "refunded"},
        content_type="application/json",
        **write_key,
    )
    again = client_a.post(
        "/api/v1/orders/",
        {"order_id": "SO-9", "source": "tmall", "status": "refunded"},
        content_type="application/json",
        **write_key,
    )

    assert refund.status_code == 200, refund.content
    assert again.status_code == 200
    body = refund.json()
    assert body["id"] == first.json()["id"]
    assert body["status"] == "refunded"
    assert body["refunded_at"] is not None
    assert body["amount"] == "199.00"  # kept: not sent again
    assert body["customer"]["id"] == lina.pk
    assert counts()[0] == before[0]
    kinds = [kind for kind, _data in timeline_kinds(lina)]
    assert kinds == ["order", "order_refunded"]


def test_the_same_order_id_from_two_sources_is_two_orders(client_a, write_key, lina):
    push_order(client_a, write_key, order_id="SO-10", source="erp", external_userid="wmLINA")
    push_order(client_a, write_key, order_id="SO-10", source="shop", external_userid="wmLINA")

    with schema_context("alpha"):
        assert Order.objects.filter(order_id="SO-10").count() == 2


def test_a_new_order_needs_amount_paid_at_and_a_customer_key(client_a, write_key):
    response = client_a.post(
        "/api/v1/orders/", {"order_id": "SO-11"}, content_type="application/json", **write_key
    )

    assert response.status_code == 400
    assert set(response.json()) == {"amount", "paid_at", "customer"}
    assert counts()[0] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "-1"),
        ("amount", "abc"),
        ("paid_at", "yesterday"),
        ("phone", "call me"),
        ("store", 999),
    ],
)
def test_bad_fields_are_named_and_nothing_is_saved(client_a, write_key, field, value):
    response = push_order(
        client_a, write_key, order_id="SO-12", external_userid="wmX", **{field: value}
    )

    assert response.status_code == 400
    assert field in response.json()
    assert counts()[0] == 0


def test_a_read_only_key_cannot_push(client_a, read_key):
    response = push_order(client_a, read_key, order_id="SO-13", external_userid="wmX")

    assert response.status_code == 403
    assert counts()[0] == 0


# --- batch ---------------------------------------------------------------------------------


def test_a_batch_saves_the_good_orders_and_answers_each_one(client_a, write_key, lina):
    orders = [
        {
            "order_id": "B-1",
            "external_userid": "wmLINA",
            "amount": "10",
            "paid_at": "2024-01-01T10:00:00",
        },
        {
            "order_id": "B-2",
            "phone": "13812345678",
            "amount": "x",
            "paid_at": "2024-01-01T10:00:00",
        },
        {"order_id": "B-3", "unionid": "oNOBODY", "amount": "30", "paid_at": "2024-01-01T10:00:00"},
        {
            "order_id": "B-1",
            "external_userid": "wmLINA",
            "amount": "11",
            "paid_at": "2024-01-01T10:00:00",
        },
        {"order_id": "B-4"},
    ]

    response = client_a.post(
        "/api/v1/orders/batch/", {"orders": orders}, content_type="application/json", **write_key
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["invalid"]) == (2, 0, 3)
    results = body["results"]
    assert [r["result"] for r in results] == ["created", "invalid", "created", "invalid", "invalid"]
    assert "amount" in results[1]["errors"]
    assert results[2]["match_problem"] == "not_found"
    assert "order_id" in results[3]["errors"]
    assert set(results[4]["errors"]) == {"amount", "paid_at", "customer"}
    with schema_context("alpha"):
        assert sorted(Order.objects.values_list("order_id", flat=True)) == ["B-1", "B-3"]
        assert Order.objects.get(order_id="B-1").amount == Decimal("10.00")


def test_a_batch_of_more_than_500_is_refused(client_a, write_key):
    orders = [{"order_id": f"B-{n}"} for n in range(501)]

    response = client_a.post(
        "/api/v1/orders/batch/", {"orders": orders}, content_type="application/json", **write_key
    )

    assert response.status_code == 400
    assert "orders" in response.json()


def test_a_batch_costs_the_same_queries_for_10_or_100_orders(
    client_a, write_key, lina, django_assert_max_num_queries
):
    def batch(prefix, n):
        return [
            {
                "order_id": f"{prefix}-{i}",
                "external_userid": "wmLINA" if i % 2 else "wmNOBODY",
                "phone": "13812345678",
                "amount": "1",
                "paid_at": "2024-01-01T10:00:00",
            }
            for i in range(n)
        ]

    with django_assert_max_num_queries(25):
        small = client_a.post(
            "/api/v1/orders/batch/",
            {"orders": batch("S", 10)},
            content_type="application/json",
            **write_key,
        )
    with django_assert_max_num_queries(25):
        large = client_a.post(
            "/api/v1/orders/batch/",
            {"orders": batch("L", 100)},
            content_type="application/json",
            **write_key,
        )

    assert small.json()["created"] == 10
    assert large.json()["created"] == 100


# --- reading -------------------------------------------------------------------------------


def test_orders_list_filters_by_customer_match_and_paid_at(client_a, read_key, write_key, lina):
    push_order(
        client_a,
        write_key,
        order_id="L-1",
        external_userid="wmLINA",
        paid_at="2024-01-05T10:00:00+08:00",
    )
    push_order(
        client_a,
        write_key,
        order_id="L-2",
        external_userid="wmLINA",
        paid_at="2024-02-05T10:00:00+08:00",
    )
    push_order(
        client_a,
        write_key,
        order_id="L-3",
        external_userid="wmNOBODY",
        paid_at="2024-02-06T10:00:00+08:00",
    )

    def order_ids(query):
        response = client_a.get(f"/api/v1/orders/{query}", **read_key)
        assert response.status_code == 200, response.content
        return [row["order_id"] for row in response.json()["results"]]

    assert order_ids("") == ["L-3", "L-2", "L-1"]
    assert order_ids("?customer=wmLINA") == ["L-2", "L-1"]
    assert order_ids("?matched=false") == ["L-3"]
    assert order_ids("?matched=true&paid_from=2024-02-01T00:00:00%2B08:00") == ["L-2"]
    assert order_ids("?paid_to=2024-01-31T00:00:00") == ["L-1"]
    assert client_a.get("/api/v1/orders/?paid_from=soon", **read_key).status_code == 400


def test_phones_are_masked_for_keys_that_may_not_read_them(client_a, read_key, write_key, lina):
    created = push_order(client_a, write_key, order_id="P-1", phone="13812345678").json()

    response = client_a.get(f"/api/v1/orders/{created['id']}/", **read_key)

    assert response.json()["phone"] == "138****5678"


@pytest.mark.parametrize("rows", [1, 20])
def test_orders_list_query_count_does_not_grow(
    client_a, read_key, lina, rows, django_assert_num_queries
):
    with schema_context("alpha"):
        store = StoreFactory()
        Order.objects.bulk_create(
            Order(
                order_id=f"Q-{n}",
                amount=1,
                paid_at=lina.created_at,
                customer_id=lina.pk,
                store_id=store.pk,
            )
            for n in range(rows)
        )

    # the host's tenant (3), the key, the page (with customer and store joined)
    with django_assert_num_queries(5):
        response = client_a.get("/api/v1/orders/", **read_key)

    assert len(response.json()["results"]) == rows


def test_an_unknown_order_is_404(client_a, read_key):
    assert client_a.get("/api/v1/orders/999999/", **read_key).status_code == 404


# --- custom events -------------------------------------------------------------------------


def test_a_custom_event_is_matched_and_on_the_timeline(client_a, write_key, lina):
    response = push_event(
        client_a,
        write_key,
        type="coupon_used",
        external_userid="wmLINA",
        properties={"coupon": "NEW100", "value": 100},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customer"]["id"] == lina.pk
    assert body["matched_by"] == "external_userid"
    [(kind, data)] = timeline_kinds(lina)
    assert kind == "custom"
    assert data == {"type": "coupon_used", "properties": {"coupon": "NEW100", "value": 100}}


def test_an_event_id_sent_again_updates_the_event(client_a, write_key, lina):
    first = push_event(client_a, write_key, event_id="E-1", unionid="oLINA", properties={"n": 1})
    second = push_event(client_a, write_key, event_id="E-1", unionid="oLINA", properties={"n": 2})

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    with schema_context("alpha"):
        assert CustomEvent.objects.count() == 1
    [(_kind, data)] = timeline_kinds(lina)
    assert data["properties"] == {"n": 2}


def test_events_without_a_customer_key_or_a_bad_type_are_refused(client_a, write_key):
    assert push_event(client_a, write_key).status_code == 400
    assert (
        push_event(client_a, write_key, type="not a slug", external_userid="wmX").status_code == 400
    )
    assert push_event(client_a, write_key, external_userid="wmX", properties=[1]).status_code == 400
    assert counts()[1] == 0


def test_events_list_filters_by_type_and_customer(client_a, read_key, write_key, lina):
    push_event(client_a, write_key, type="signup", external_userid="wmLINA")
    push_event(client_a, write_key, type="coupon_used", external_userid="wmLINA")
    push_event(client_a, write_key, type="coupon_used", external_userid="wmNOBODY")

    def types(query):
        response = client_a.get(f"/api/v1/events/{query}", **read_key)
        assert response.status_code == 200, response.content
        return sorted(row["type"] for row in response.json()["results"])

    assert types("?type=coupon_used") == ["coupon_used", "coupon_used"]
    assert types("?customer=wmLINA") == ["coupon_used", "signup"]
    assert types("?matched=false") == ["coupon_used"]


def test_an_events_batch_answers_each_one(client_a, write_key, lina):
    events = [
        {
            "type": "a",
            "external_userid": "wmLINA",
            "occurred_at": "2024-01-01T00:00:00",
            "event_id": "X",
        },
        {
            "type": "b",
            "external_userid": "wmLINA",
            "occurred_at": "2024-01-01T00:00:00",
            "event_id": "X",
        },
        {"type": "c", "occurred_at": "2024-01-01T00:00:00"},
    ]

    response = client_a.post(
        "/api/v1/events/batch/", {"events": events}, content_type="application/json", **write_key
    )

    assert response.status_code == 200, response.content
    assert [r["result"] for r in response.json()["results"]] == ["created", "invalid", "invalid"]


# --- tenants -------------------------------------------------------------------------------


def test_a_key_of_one_brand_cannot_read_another_brands_orders(client_a, client_b, write_key, lina):
    created = push_order(client_a, write_key, order_id="T-1", external_userid="wmLINA").json()
    key_b = api_key("beta")

    assert client_b.get(f"/api/v1/orders/{created['id']}/", **write_key).status_code == 401
    assert client_b.get(f"/api/v1/orders/{created['id']}/", **key_b).status_code == 404
    assert client_b.get("/api/v1/orders/", **key_b).json()["results"] == []


def test_an_order_pushed_to_one_brand_never_matches_another_brands_customer(client_a, write_key):
    with schema_context("beta"):
        beta_customer = CustomerFactory(external_userid="wmSHARED", unionid="oSHARED")
        RelationFactory(customer=beta_customer, remark_mobiles=["13700000000"])

    response = push_order(
        client_a,
        write_key,
        order_id="T-2",
        external_userid="wmSHARED",
        unionid="oSHARED",
        phone="13700000000",
    )

    assert response.json()["customer"] is None
    assert response.json()["match_problem"] == "not_found"
    assert timeline_kinds(beta_customer, schema="beta") == []
