"""The group sends API as an integrator's HTTP client sees it: create, plan, read the plan,
confirm (audit-logged), the templates in WeCom (the sandbox), results, remind, cancel;
refusals as 400 with the reason; read-only keys; another brand's ids."""

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.services import api_key_create
from accounts.tests.factories import bearer
from broadcast.dispatch import broadcast_dispatch
from broadcast.models import Broadcast
from broadcast.planning import broadcast_plan
from broadcast.services import broadcast_sync
from broadcast.tests.helpers import CORP_ID, everyone, guides_confirm, planned, setup_corp

JSON = "application/json"


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


def post(client, url, body, headers):
    return client.post(url, body, content_type=JSON, **headers)


def test_create_plan_confirm_and_read_the_results(
    guides, wecom_sandbox, client_a, write_key, django_capture_on_commit_callbacks
):
    segment = everyone()
    created = post(
        client_a,
        "/api/v1/broadcasts/",
        {
            "name": "会员日",
            "text": "{guide_name} 提醒您：会员日全场九折",
            "attachments": [{"msgtype": "link", "title": "会员日", "url": "https://example.com"}],
            "segment": segment.pk,
            "deadline": "2099-01-01T00:00:00+08:00",
        },
        write_key,
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["status"], body["audience"], body["segment"]) == ("draft", "segment", segment.pk)
    url = f"/api/v1/broadcasts/{body['id']}/"

    with django_capture_on_commit_callbacks():
        planning = post(client_a, url + "plan/", {}, write_key)
    assert planning.status_code == 202
    assert planning.json()["status"] == "planning"

    broadcast_plan(broadcast_id=body["id"])
    ready = client_a.get(url, **write_key).json()
    assert ready["status"] == "ready"
    assert ready["counts"] == {"planned": 17}
    again = post(client_a, url + "plan/", {}, write_key)
    assert again.status_code == 400
    assert again.json() == {"non_field_errors": ["this group send has already been planned"]}

    with django_capture_on_commit_callbacks():
        confirmed = post(client_a, url + "confirm/", {}, write_key)
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "dispatching"
    entry = AuditLogEntry.objects.get(action="broadcast.confirmed")
    assert entry.actor_label.startswith("ERP (")  # the key that confirmed

    broadcast_dispatch(broadcast_id=body["id"])
    guides_confirm(wecom_sandbox.control, Broadcast.objects.get(pk=body["id"]), only="bob")
    broadcast_sync(broadcast_id=body["id"])
    waiting = client_a.get(url, **write_key).json()
    assert waiting["status"] == "waiting"
    assert waiting["progress"]["phase"] == "results"
    assert (waiting["progress"]["done"], waiting["progress"]["total"]) == (6, 17)
    assert waiting["progress"]["chunks_total"] == 3

    sent = client_a.get(url + "deliveries/?status=sent", **write_key).json()
    assert {d["target"] for d in sent["results"]} == {f"wmG{n:04d}" for n in range(10, 16)}
    assert {d["sender_userid"] for d in sent["results"]} == {"bob"}
    page = client_a.get(url + "deliveries/?page_size=10", **write_key).json()
    assert len(page["results"]) == 10
    assert page["next"]
    rest = client_a.get(page["next"], **write_key).json()
    assert len(rest["results"]) == 7
    assert rest["next"] is None

    reminded = post(client_a, url + "remind/", {}, write_key)
    assert reminded.json() == {"reminded": 2}

    cancelled = post(client_a, url + "cancel/", {}, write_key)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    amy = Broadcast.objects.get(pk=body["id"]).chunks.get(sender__userid="amy")
    assert wecom_sandbox.control.template(CORP_ID, amy.msgid)["cancelled"] is True


def test_a_send_to_group_chats_and_explicit_customers(guides, client_a, write_key):
    chats = post(
        client_a,
        "/api/v1/broadcasts/",
        {"name": "群公告", "text": "今晚直播", "chat_ids": ["wrGROUPAMY01"]},
        write_key,
    ).json()
    assert (chats["chat_type"], chats["audience"], chats["audience_size"]) == (
        "group",
        "chats",
        1,
    )
    customers = post(
        client_a,
        "/api/v1/broadcasts/",
        {"name": "两位", "text": "hi", "external_userids": ["wmG0001", "wmG0002"]},
        write_key,
    ).json()
    assert (customers["chat_type"], customers["audience"]) == ("single", "customers")
    broadcast_plan(broadcast_id=customers["id"])
    plan = client_a.get(f"/api/v1/broadcasts/{customers['id']}/", **write_key).json()
    assert plan["counts"] == {"planned": 2}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "x", "text": "hi"}, "non_field_errors", "Give exactly one audience"),
        (
            {"name": "x", "text": "hi", "segment": 1, "chat_ids": ["wr1"]},
            "non_field_errors",
            "Give exactly one audience",
        ),
        ({"name": "x", "external_userids": ["wm1"]}, "non_field_errors", "write the text"),
        (
            {"name": "x", "text": "hi", "external_userids": ["wm1"], "sender_rule": "store"},
            "non_field_errors",
            "choose the store whose guides send",
        ),
        (
            {"name": "x", "text": "hi", "external_userids": ["wm1"], "attachments": [{}]},
            "attachments",
            "",
        ),
    ],
)
def test_bad_input_is_refused_with_the_reason(db, client_a, write_key, body, field, message):
    response = post(client_a, "/api/v1/broadcasts/", body, write_key)
    assert response.status_code == 400
    assert message in response.json()[field][0]
    with schema_context("alpha"):
        assert not Broadcast.objects.exists()


def test_confirming_what_is_not_planned_is_refused(db, client_a, write_key):
    with schema_context("alpha"):
        broadcast = Broadcast.objects.create(name="草稿", audience="customers", text="hi")
    response = post(client_a, f"/api/v1/broadcasts/{broadcast.pk}/confirm/", {}, write_key)
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["only a planned group send can be confirmed"]}
    remind = post(client_a, f"/api/v1/broadcasts/{broadcast.pk}/remind/", {}, write_key)
    assert remind.status_code == 400


def test_a_read_only_key_reads_but_cannot_create_or_confirm(db, client_a, read_key):
    with schema_context("alpha"):
        broadcast = Broadcast.objects.create(
            name="待确认", audience="customers", text="hi", status="ready"
        )
    assert client_a.get(f"/api/v1/broadcasts/{broadcast.pk}/", **read_key).status_code == 200
    created = post(
        client_a, "/api/v1/broadcasts/", {"name": "x", "external_userids": ["wm1"]}, read_key
    )
    assert created.status_code == 403
    for step in ("plan", "confirm", "cancel", "remind"):
        url = f"/api/v1/broadcasts/{broadcast.pk}/{step}/"
        assert post(client_a, url, {}, read_key).status_code == 403
    with schema_context("alpha"):
        assert Broadcast.objects.get().status == "ready"


def test_another_brands_key_gets_404(db, client_a, client_b, write_key):
    with schema_context("alpha"):
        broadcast = Broadcast.objects.create(name="A", audience="customers", text="hi")
    beta = key(APIKey.Scope.READ_WRITE, schema="beta")
    for path in ("", "deliveries/"):
        assert client_b.get(f"/api/v1/broadcasts/{broadcast.pk}/{path}", **beta).status_code == 404
    assert (
        post(client_b, f"/api/v1/broadcasts/{broadcast.pk}/confirm/", {}, beta).status_code == 404
    )
    assert client_a.get("/api/v1/broadcasts/abc/", **write_key).status_code == 400


@pytest.mark.parametrize("rows", [2, 9])
def test_lists_cost_the_same_queries_whatever_the_rows(
    guides, client_a, read_key, django_assert_num_queries, rows
):
    with override_settings(BROADCAST_CHUNK_SIZE=10_000):
        broadcast = planned()
    for index in range(rows - 1):
        Broadcast.objects.create(name=f"群发{index}", audience="segment", segment=everyone())

    # routing (3), the key (1), the page
    with django_assert_num_queries(5):
        listed = client_a.get("/api/v1/broadcasts/", **read_key)
    assert len(listed.json()["results"]) == rows

    # routing (3), the key (1), the broadcast, the page with customers, chats and guides
    with django_assert_num_queries(6):
        deliveries = client_a.get(f"/api/v1/broadcasts/{broadcast.pk}/deliveries/", **read_key)
    assert len(deliveries.json()["results"]) == 17
