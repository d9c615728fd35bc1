"""The lifecycle API as an integrator's HTTP client sees it: stage counts over time, and a
stage's customers page by page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.services import api_key_create
from accounts.tests.factories import bearer
from contacts.tests.factories import CustomerFactory, RelationFactory
from lifecycle.stages import customer_stages_recompute


@pytest.fixture
def read_key(db, tenant_a) -> dict[str, str]:
    with schema_context("alpha"):
        _, raw_key = api_key_create(name="CRM", scope="read", created_by=None)
    return {**bearer(raw_key), "HTTP_COOKIE": "django_language=en"}


def friends(count: int, *, days_ago: float) -> None:
    for _n in range(count):
        RelationFactory(
            customer=CustomerFactory(), added_at=timezone.now() - timedelta(days=days_ago)
        )


def test_stage_counts_per_day(client_a, read_key):
    today = timezone.localdate()
    with schema_context("alpha"):
        friends(2, days_ago=3)
        customer_stages_recompute(now=timezone.now() - timedelta(days=1))
        friends(1, days_ago=0.1)
        friends(1, days_ago=60)
        customer_stages_recompute()

    response = client_a.get(
        f"/api/v1/lifecycle/stage-counts/?from={today - timedelta(days=2)}&to={today}", **read_key
    )

    assert response.status_code == 200
    body = response.json()
    assert [row["day"] for row in body["results"]] == [
        (today - timedelta(days=n)).isoformat() for n in (2, 1, 0)
    ]
    assert body["results"][0]["new"] is None  # not counted that day
    assert body["results"][1] == {
        "day": (today - timedelta(days=1)).isoformat(),
        "new": 2,
        "engaged": 0,
        "first_order": 0,
        "repeat": 0,
        "dormant": 0,
        "lost": 0,
    }
    assert (body["results"][2]["new"], body["results"][2]["dormant"]) == (3, 1)


def test_a_bad_range_is_a_400(client_a, read_key):
    today = timezone.localdate()

    backwards = client_a.get(
        f"/api/v1/lifecycle/stage-counts/?from={today}&to={today - timedelta(days=1)}", **read_key
    )
    too_long = client_a.get(
        f"/api/v1/lifecycle/stage-counts/?from={today - timedelta(days=400)}", **read_key
    )

    assert backwards.status_code == too_long.status_code == 400
    assert "to" in backwards.json()
    assert "from" in too_long.json()


@pytest.mark.parametrize("count", [3, 30])
def test_a_stages_customers_page_by_page(client_a, read_key, django_assert_num_queries, count):
    with schema_context("alpha"):
        friends(count, days_ago=1)
        friends(2, days_ago=90)
        customer_stages_recompute()

    # routing (3), the key, a page of stages with their customers
    with django_assert_num_queries(5):
        first = client_a.get("/api/v1/lifecycle/customers/?stage=new&page_size=20", **read_key)

    assert first.status_code == 200
    results = first.json()["results"]
    assert len(results) == min(count, 20)
    assert {row["stage"] for row in results} == {"new"}
    assert set(results[0]) == {"customer", "external_userid", "stage", "since"}
    seen = [row["customer"] for row in results]
    if first.json()["next"]:
        rest = client_a.get(first.json()["next"], **read_key).json()["results"]
        seen += [row["customer"] for row in rest]
    assert len(seen) == len(set(seen)) == count
    dormant = client_a.get("/api/v1/lifecycle/customers/?stage=dormant", **read_key)
    assert len(dormant.json()["results"]) == 2


def test_the_stage_is_required(client_a, read_key):
    response = client_a.get("/api/v1/lifecycle/customers/", **read_key)

    assert response.status_code == 400
    assert "stage" in response.json()


def test_without_a_key_there_is_nothing(db, tenant_a, client_a):
    assert client_a.get("/api/v1/lifecycle/stage-counts/").status_code == 401
