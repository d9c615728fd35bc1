"""The handovers API as an integrator's HTTP client sees it: a preview that writes nothing,
a start that reaches WeCom (the sandbox), cancel, re-allocation, items, refusals as 400 with
the service's message, read-only keys, and another brand's key."""

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.services import api_key_create
from accounts.tests.factories import bearer
from contacts.models import Customer, Guide
from handover.models import Handover, TransferItem
from handover.services import handover_start
from handover.tests.helpers import CORP_ID, setup_corp
from handover.transfer import handover_poll, handover_send

JSON = "application/json"
S = TransferItem.Status


def key(scope: str = APIKey.Scope.READ, schema: str = "alpha") -> dict[str, str]:
    with schema_context(schema):
        _, raw_key = api_key_create(name="ERP", scope=scope, created_by=None)
    return {**bearer(raw_key), "HTTP_COOKIE": "django_language=en"}


@pytest.fixture
def read_key(db) -> dict[str, str]:
    return key()


@pytest.fixture
def write_key(db) -> dict[str, str]:
    return key(APIKey.Scope.READ_WRITE)


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


def make_guide(userid: str, *, departed: bool = False) -> Guide:
    status = Guide.Status.DEPARTED if departed else Guide.Status.ACTIVE
    return Guide.objects.create(userid=userid, name=userid, status=status)


def make_customer(external_userid: str) -> Customer:
    return Customer.objects.create(external_userid=external_userid, name=external_userid)


def post(client, url, body, headers):
    return client.post(url, body, content_type=JSON, **headers)


def amy_departs(control) -> Guide:
    control.member_leaves(CORP_ID, "amy")
    Guide.objects.filter(userid="amy").update(status=Guide.Status.DEPARTED)
    return Guide.objects.get(userid="amy")


def test_a_preview_answers_the_plan_and_writes_nothing(guides, wecom_sandbox, client_a, read_key):
    amy_departs(wecom_sandbox.control)

    response = post(
        client_a,
        "/api/v1/handovers/preview/",
        {"from_guides": ["amy"], "mode": "even_list", "takers": ["bob", "cat"], "max_per_guide": 4},
        read_key,  # it only reads: any key may call it
    )

    assert response.status_code == 200, response.json()
    plan = response.json()
    assert plan["kind"] == "resigned"
    received = {t["userid"]: (t["current"], t["customers"]) for t in plan["takers"]}
    # bob holds 2 already: room for 2 more; cat for 4; 6 customers → 2 + 4
    assert received == {"bob": (2, 2), "cat": (0, 4)}
    assert (plan["customers_to_send"], plan["chats_to_send"], plan["unallocated"]) == (6, 1, 0)
    assert not Handover.objects.exists()
    assert not TransferItem.objects.exists()
    assert wecom_sandbox.control.transfers(CORP_ID, "wmH0000") == []


def test_a_handover_is_started_sent_and_followed_to_the_end(
    guides, wecom_sandbox, client_a, write_key
):
    control = wecom_sandbox.control

    created = post(
        client_a,
        "/api/v1/handovers/",
        {
            "from_guides": ["bob"],
            "mode": "one",
            "takers": ["cat"],
            "message": "您好，之后由同事小猫为您服务",
        },
        write_key,
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["kind"], body["status"], body["trigger"]) == ("on_duty", "sending", "api")
    assert [g["userid"] for g in body["from_guides"]] == ["bob"]
    assert [g["userid"] for g in body["takers"]] == ["cat"]
    assert body["counts"]["pending"] == 2
    assert body["counts"]["total"] == 2
    entry = AuditLogEntry.objects.get(action="handover.started")
    assert entry.actor_type == AuditLogEntry.ActorType.API_KEY

    handover_id = body["id"]
    assert handover_send(handover_id=handover_id) == Handover.Status.WAITING
    control.advance_clock(24 * 3600 + 60)
    assert handover_poll(handover_id=handover_id) == Handover.Status.DONE
    assert "之后由同事小猫为您服务" in str(control.received(CORP_ID, "wmB0001"))

    done = client_a.get(f"/api/v1/handovers/{handover_id}/", **write_key).json()
    assert done["status"] == "done"
    assert (done["counts"]["accepted"], done["counts"]["final"]) == (2, 2)
    items = client_a.get(f"/api/v1/handovers/{handover_id}/items/", **write_key).json()
    assert [(i["external_id"], i["to_guide"]["userid"], i["status"]) for i in items["results"]] == [
        ("wmB0000", "cat", "accepted"),
        ("wmB0001", "cat", "accepted"),
    ]


def test_refusals_are_400_with_the_services_message(guides, wecom_sandbox, client_a, write_key):
    amy_departs(wecom_sandbox.control)

    def start(body):
        return post(client_a, "/api/v1/handovers/", body, write_key)

    mixed = start({"from_guides": ["amy", "bob"], "mode": "one", "takers": ["cat"]})
    assert mixed.status_code == 400
    assert mixed.json() == {
        "non_field_errors": [
            "hand over departed guides and working guides separately: WeCom has two kinds"
        ]
    }
    departed_taker = start({"from_guides": ["bob"], "mode": "one", "takers": ["amy"]})
    assert departed_taker.json() == {
        "non_field_errors": ["导购amy has left the company and cannot take over customers"]
    }
    unknown = start({"from_guides": ["nobody"], "mode": "even_store"})
    assert unknown.json() == {"from_guides": ["No guide with the userid: nobody."]}
    too_long = start(
        {"from_guides": ["bob"], "mode": "one", "takers": ["cat"], "message": "好" * 201}
    )
    assert list(too_long.json()) == ["message"]
    no_mapping = start({"from_guides": ["amy"], "mode": "csv"})
    assert no_mapping.json() == {"mapping": ["Give the mapping: customer → guide."]}
    assert not Handover.objects.exists()


def test_a_mapping_allocates_customer_by_customer(guides, wecom_sandbox, client_a, write_key):
    amy_departs(wecom_sandbox.control)

    response = post(
        client_a,
        "/api/v1/handovers/preview/",
        {
            "from_guides": ["amy"],
            "mode": "csv",
            "include_chats": False,
            "mapping": [
                {"external_userid": "wmH0000", "takeover_userid": "dan"},
                {"external_userid": "wmB0000", "takeover_userid": "dan"},
            ],
        },
        write_key,
    )

    plan = response.json()
    assert plan["customers_to_send"] == 1
    assert plan["unallocated"] == 5
    assert plan["mapping_problems"] == [
        {"value": "wmB0000,dan", "reason": "not a customer of the guides handed over"}
    ]
    assert {"target": "customer", "reason": "not in the CSV file", "count": 5} in plan["reasons"]


def test_read_keys_read_and_cannot_start_cancel_or_reallocate(guides, client_a, read_key):
    handover = handover_start(
        from_guides=[guides["bob"]], mode=Handover.Mode.ONE, takers=[guides["cat"]]
    )

    assert client_a.get(f"/api/v1/handovers/{handover.pk}/", **read_key).status_code == 200
    started = post(
        client_a, "/api/v1/handovers/", {"from_guides": ["dan"], "mode": "even_store"}, read_key
    )
    assert started.status_code == 403
    assert (
        post(client_a, f"/api/v1/handovers/{handover.pk}/cancel/", {}, read_key).status_code == 403
    )
    reallocated = post(
        client_a, f"/api/v1/handovers/{handover.pk}/reallocate/", {"takers": ["dan"]}, read_key
    )
    assert reallocated.status_code == 403
    handover.refresh_from_db()
    assert handover.status == Handover.Status.SENDING


def test_cancel_stops_what_was_not_sent_and_refuses_twice(guides, client_a, write_key):
    handover = handover_start(
        from_guides=[guides["bob"]], mode=Handover.Mode.ONE, takers=[guides["cat"]]
    )

    response = post(client_a, f"/api/v1/handovers/{handover.pk}/cancel/", {}, write_key)

    assert response.status_code == 200
    assert response.json()["cancelled"] == 2
    assert response.json()["handover"]["status"] == "cancelled"
    again = post(client_a, f"/api/v1/handovers/{handover.pk}/cancel/", {}, write_key)
    assert again.status_code == 400
    assert again.json() == {"non_field_errors": ["this handover is already over"]}


def test_failed_items_are_reallocated(guides, wecom_sandbox, client_a, write_key):
    control = wecom_sandbox.control
    amy = amy_departs(control)
    handover = handover_start(
        from_guides=[amy], mode=Handover.Mode.ONE, takers=[guides["bob"]], include_chats=False
    )
    handover_send(handover_id=handover.pk)
    control.decide_transfer(CORP_ID, "wmH0002", "limit")
    handover_poll(handover_id=handover.pk)
    full = client_a.get(
        f"/api/v1/handovers/{handover.pk}/items/?status=taker_full", **write_key
    ).json()
    assert [i["external_id"] for i in full["results"]] == ["wmH0002"]

    response = post(
        client_a, f"/api/v1/handovers/{handover.pk}/reallocate/", {"takers": ["dan"]}, write_key
    )

    assert response.status_code == 200, response.json()
    assert response.json()["reallocated"] == 1
    assert response.json()["handover"]["status"] == "sending"
    handover_send(handover_id=handover.pk)
    assert control.transfers(CORP_ID, "wmH0002")[-1]["takeover_userid"] == "dan"


@pytest.mark.parametrize("count", [2, 9])
def test_the_list_has_counts_in_a_fixed_number_of_queries(
    db, client_a, read_key, django_assert_num_queries, count
):
    with schema_context("alpha"):
        for index in range(count):
            giver = make_guide(f"gone{index}", departed=True)
            handover = Handover.objects.create(
                kind=Handover.Kind.RESIGNED,
                status=Handover.Status.WAITING,
                trigger=Handover.Trigger.OPERATOR,
                started_at=timezone.now(),
            )
            handover.from_guides.set([giver])
            handover.takers.set([make_guide(f"taker{index}")])
            for number, status in enumerate((S.ACCEPTED, S.WAITING, S.WAITING)):
                customer = make_customer(f"wmL{index}-{number}")
                TransferItem.objects.create(
                    handover=handover,
                    customer=customer,
                    external_id=customer.external_userid,
                    from_guide=giver,
                    status=status,
                )

    # routing (3), the key and its last use (2) + a page of handovers, their from guides and
    # takers, the counts per status
    with django_assert_num_queries(8):
        response = client_a.get("/api/v1/handovers/", **read_key)

    results = response.json()["results"]
    assert len(results) == count
    assert all(r["counts"]["waiting"] == 2 and r["counts"]["final"] == 1 for r in results)


def test_items_are_paginated_in_planning_order_with_a_status_filter(db, client_a, read_key):
    with schema_context("alpha"):
        giver = make_guide("gone", departed=True)
        handover = Handover.objects.create(
            kind=Handover.Kind.RESIGNED,
            status=Handover.Status.DONE,
            trigger=Handover.Trigger.OPERATOR,
        )
        for index in range(5):
            customer = make_customer(f"wmI{index}")
            TransferItem.objects.create(
                handover=handover,
                customer=customer,
                external_id=customer.external_userid,
                from_guide=giver,
                status=S.LOST if index % 2 else S.ACCEPTED,
            )

    first = client_a.get(f"/api/v1/handovers/{handover.pk}/items/?page_size=2", **read_key).json()
    assert [i["external_id"] for i in first["results"]] == ["wmI0", "wmI1"]
    second = client_a.get(first["next"], **read_key).json()
    assert [i["external_id"] for i in second["results"]] == ["wmI2", "wmI3"]
    lost = client_a.get(f"/api/v1/handovers/{handover.pk}/items/?status=lost", **read_key).json()
    assert [(i["external_id"], i["reason"]) for i in lost["results"]] == [
        ("wmI1", ""),
        ("wmI3", ""),
    ]
    bad = client_a.get(f"/api/v1/handovers/{handover.pk}/items/?status=nope", **read_key)
    assert bad.status_code == 400
    assert list(bad.json()) == ["status"]


def test_another_brands_key_finds_nothing(guides, client_b):
    handover = handover_start(
        from_guides=[guides["bob"]], mode=Handover.Mode.ONE, takers=[guides["cat"]]
    )
    beta_key = key(APIKey.Scope.READ_WRITE, schema="beta")

    assert client_b.get(f"/api/v1/handovers/{handover.pk}/", **beta_key).status_code == 404
    assert client_b.get(f"/api/v1/handovers/{handover.pk}/items/", **beta_key).status_code == 404
    cancel = post(client_b, f"/api/v1/handovers/{handover.pk}/cancel/", {}, beta_key)
    assert cancel.status_code == 404
    assert client_b.get("/api/v1/handovers/", **beta_key).json()["results"] == []
    with schema_context("alpha"):
        handover.refresh_from_db()
    assert handover.status == Handover.Status.SENDING
