"""The contacts REST API, as an integrator's HTTP client sees it."""

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.services import api_key_create
from accounts.tests.factories import bearer, make_api_key
from contacts.models import Customer, CustomerEvent, GroupChatMember, Guide, Relation, SyncRun
from contacts.tests.factories import (
    CustomerEventFactory,
    CustomerFactory,
    GroupChatFactory,
    GroupChatMemberFactory,
    GuideFactory,
    RelationFactory,
    StoreFactory,
)
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox

CORP_ID = "wwcontactsapi0001"


def day(text: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(text))


def key(scope: str = APIKey.Scope.READ, *, sees_phones: bool = False) -> dict[str, str]:
    with schema_context("alpha"):
        _, raw_key = api_key_create(
            name="ERP", scope=scope, created_by=None, sees_phones=sees_phones
        )
    return bearer(raw_key)


@pytest.fixture
def read_key(db) -> dict[str, str]:
    return key()


@pytest.fixture
def write_key(db) -> dict[str, str]:
    return key(APIKey.Scope.READ_WRITE)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- customers -----------------------------------------------------------------------------


def test_customer_list_shows_each_customer_once_with_its_relations(client_a, read_key):
    with schema_context("alpha"):
        store = StoreFactory(name="徐汇店")
        guide = GuideFactory(userid="zhangsan", name="张三", store=store)
        customer = CustomerFactory(
            external_userid="wmAAA", name="李四", unionid="oU1", corp_name="Acme"
        )
        RelationFactory(
            guide=guide, customer=customer, remark="李四-VIP", state="spring", add_way=1
        )
        RelationFactory(customer=customer, wecom_tag_ids=["et1"])

    response = client_a.get("/api/v1/customers/", **read_key)

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert len(body["results"]) == 1
    row = body["results"][0]
    assert row["external_userid"] == "wmAAA"
    assert row["unionid"] == "oU1"
    assert row["corp_name"] == "Acme"
    assert len(row["relations"]) == 2
    mine = next(r for r in row["relations"] if r["guide"]["userid"] == "zhangsan")
    assert mine["remark"] == "李四-VIP"
    assert mine["state"] == "spring"
    assert mine["status"] == "active"
    assert mine["guide"] == {
        "id": guide.pk,
        "userid": "zhangsan",
        "name": "张三",
        "store": {"id": store.pk, "department_id": store.department_id, "name": "徐汇店"},
    }


@pytest.fixture
def two_customers(db):
    """`wanted` matches every filter below, `other` none of them."""
    with schema_context("alpha"):
        store, other_store = StoreFactory(), StoreFactory()
        guide = GuideFactory(userid="wanted_guide", store=store)
        other_guide = GuideFactory(userid="other_guide", store=other_store)
        wanted = CustomerFactory(name="王小明", type=Customer.Type.WECHAT)
        other = CustomerFactory(name="赵六", type=Customer.Type.WECOM)
        RelationFactory(
            guide=guide,
            customer=wanted,
            added_at=day("2024-03-10T12:00"),
            add_way=Relation.AddWay.QR_CODE,
            state="spring",
            status=Relation.Status.ACTIVE,
            remark="老客户",
        )
        RelationFactory(
            guide=other_guide,
            customer=other,
            added_at=day("2024-05-10T12:00"),
            add_way=Relation.AddWay.CARD,
            state="autumn",
            status=Relation.Status.DELETED_BY_CUSTOMER,
        )
    return {"wanted": wanted, "other": other, "guide": guide, "store": store}


@pytest.mark.parametrize(
    "params",
    [
        {"q": "小明"},
        {"q": "老客户"},
        {"q": "{external_userid}"},
        {"guide": "{guide}"},
        {"guide_userid": "wanted_guide"},
        {"store": "{store}"},
        {"status": "active"},
        {"added_from": "2024-03-01", "added_to": "2024-03-31"},
        {"added_to": "2024-03-10"},
        {"add_way": "1"},
        {"state": "spring"},
        {"type": "1"},
    ],
)
def test_each_customer_filter_narrows(client_a, read_key, two_customers, params):
    wanted = two_customers["wanted"]
    values = {
        "guide": two_customers["guide"].pk,
        "store": two_customers["store"].pk,
        "external_userid": wanted.external_userid,
    }
    query = {name: value.format(**values) for name, value in params.items()}

    everyone = ids(client_a.get("/api/v1/customers/", **read_key))
    narrowed = ids(client_a.get("/api/v1/customers/", query, **read_key))
    relations = client_a.get("/api/v1/relations/", query, **read_key).json()["results"]

    assert len(everyone) == 2
    assert narrowed == [wanted.pk]
    assert [r["customer"]["id"] for r in relations] == [wanted.pk]


def test_unknown_guide_userid_finds_nobody(client_a, read_key, two_customers):
    response = client_a.get("/api/v1/customers/", {"guide_userid": "nobody"}, **read_key)

    assert ids(response) == []


def test_relations_filter_by_customer(client_a, read_key, two_customers):
    wanted = two_customers["wanted"]

    response = client_a.get("/api/v1/relations/", {"customer": wanted.pk}, **read_key)

    rows = response.json()["results"]
    assert len(rows) == 1
    assert rows[0]["customer"]["external_userid"] == wanted.external_userid


def test_cursor_walk_over_120_customers_has_no_duplicate_and_no_gap(client_a, read_key):
    with schema_context("alpha"):
        base = timezone.now()
        # Groups of three share a timestamp: the id must break the ties.
        created = [
            CustomerFactory(last_added_at=base - timedelta(minutes=index // 3))
            for index in range(120)
        ]
    expected = [c.pk for c in sorted(created, key=lambda c: (c.last_added_at, c.pk), reverse=True)]

    seen: list[int] = []
    url = "/api/v1/customers/?page_size=25"
    pages = 0
    while url:
        response = client_a.get(url, **read_key)
        seen += ids(response)
        url = response.json()["next"]
        pages += 1
        assert pages < 10

    assert pages == 5
    assert seen == expected


def test_cursor_keeps_the_filters(client_a, read_key):
    with schema_context("alpha"):
        guide = GuideFactory()
        for _ in range(3):
            RelationFactory(guide=guide)
            RelationFactory()

    first = client_a.get("/api/v1/customers/", {"guide": guide.pk, "page_size": 2}, **read_key)
    next_url = first.json()["next"]
    second = client_a.get(next_url, **read_key)

    assert parse_qs(urlparse(next_url).query)["guide"] == [str(guide.pk)]
    assert len(ids(first)) == 2
    assert len(ids(second)) == 1
    assert second.json()["next"] is None


def test_customer_detail_by_id_and_by_external_userid(client_a, read_key):
    with schema_context("alpha"):
        relation = RelationFactory(customer__external_userid="wmDETAIL01")
    customer_id = relation.customer_id

    by_id = client_a.get(f"/api/v1/customers/{customer_id}/", **read_key)
    by_wecom_id = client_a.get("/api/v1/customers/by-external-userid/wmDETAIL01/", **read_key)
    missing = client_a.get("/api/v1/customers/by-external-userid/wmNOBODY/", **read_key)

    assert by_id.status_code == 200
    assert by_id.json()["relations"][0]["id"] == relation.pk
    assert by_wecom_id.json() == by_id.json()
    assert missing.status_code == 404
    assert client_a.get("/api/v1/customers/999999/", **read_key).status_code == 404


def test_timeline_is_newest_first_and_paginated(client_a, read_key):
    with schema_context("alpha"):
        customer = CustomerFactory()
        now = timezone.now()
        events = [
            CustomerEventFactory(customer=customer, occurred_at=now - timedelta(hours=h))
            for h in range(5)
        ]
        CustomerEventFactory()  # someone else's

    first = client_a.get(f"/api/v1/customers/{customer.pk}/timeline/?page_size=3", **read_key)
    second = client_a.get(first.json()["next"], **read_key)

    assert ids(first) + ids(second) == [e.pk for e in events]
    assert first.json()["results"][0]["kind"] == "added"
    assert client_a.get("/api/v1/customers/999999/timeline/", **read_key).status_code == 404


# --- query counts --------------------------------------------------------------------------

# Every request: tenant routing (3) and the key lookup (1).
PER_REQUEST = 4


def many_customers(count: int) -> None:
    store = StoreFactory()
    guides = [GuideFactory(store=store), GuideFactory(store=None), GuideFactory(store=store)]
    for index in range(count):
        customer = CustomerFactory()
        RelationFactory(customer=customer, guide=guides[0], remark_mobiles=["13812345678"])
        RelationFactory(customer=customer, guide=guides[1 + index % 2])
        RelationFactory(customer=customer)  # a third guide, its own store


def many_guides(count: int) -> None:
    for _ in range(count):
        RelationFactory()


def many_chats(count: int) -> None:
    for _ in range(count):
        GroupChatMemberFactory(chat=GroupChatFactory())


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize(
    ("url", "make", "queries"),
    [
        ("/api/v1/customers/", many_customers, PER_REQUEST + 2),  # page + relations
        ("/api/v1/relations/", many_customers, PER_REQUEST + 1),
        ("/api/v1/guides/", many_guides, PER_REQUEST + 1),  # counts are subqueries
        ("/api/v1/group-chats/", many_chats, PER_REQUEST + 1),
        ("/api/v1/stores/", many_guides, PER_REQUEST + 1),
    ],
)
def test_list_queries_do_not_grow_with_the_page(
    client_a, read_key, django_assert_num_queries, url, make, queries, rows
):
    with schema_context("alpha"):
        make(rows)

    with django_assert_num_queries(queries):
        response = client_a.get(url, {"page_size": rows}, **read_key)

    assert len(ids(response)) == rows


# --- phone numbers -------------------------------------------------------------------------


@pytest.fixture
def customer_with_phones(db):
    with schema_context("alpha"):
        relation = RelationFactory(remark_mobiles=["13812345678", "+8613912345678"])
        CustomerEventFactory(
            customer=relation.customer,
            kind=CustomerEvent.Kind.EDITED,
            data={"remark_mobiles": ["13700001111"], "before": {"remark_mobiles": []}},
        )
    return relation


def test_phones_are_masked_for_keys_without_the_permission(client_a, customer_with_phones):
    headers = key()
    customer_id = customer_with_phones.customer_id

    listed = client_a.get("/api/v1/customers/", **headers).json()["results"][0]
    relation = client_a.get(f"/api/v1/relations/{customer_with_phones.pk}/", **headers).json()
    timeline = client_a.get(f"/api/v1/customers/{customer_id}/timeline/", **headers).json()

    assert listed["relations"][0]["remark_mobiles"] == ["138****5678", "+86****5678"]
    assert relation["remark_mobiles"] == ["138****5678", "+86****5678"]
    assert timeline["results"][0]["data"]["remark_mobiles"] == ["137****1111"]
    assert "13812345678" not in str(listed) + str(relation) + str(timeline)


def test_phones_are_shown_to_keys_with_the_permission(client_a, customer_with_phones):
    headers = key(sees_phones=True)
    customer_id = customer_with_phones.customer_id

    listed = client_a.get("/api/v1/customers/", **headers).json()["results"][0]
    timeline = client_a.get(f"/api/v1/customers/{customer_id}/timeline/", **headers).json()

    assert listed["relations"][0]["remark_mobiles"] == ["13812345678", "+8613912345678"]
    assert timeline["results"][0]["data"]["remark_mobiles"] == ["13700001111"]


def test_only_keys_that_see_phones_may_search_by_phone(client_a, customer_with_phones):
    masked = client_a.get("/api/v1/customers/", {"q": "13812345678"}, **key())
    full = client_a.get("/api/v1/customers/", {"q": "13812345678"}, **key(sees_phones=True))

    assert masked.status_code == 400
    assert "q" in masked.json()
    assert ids(full) == [customer_with_phones.customer_id]


def test_api_keys_endpoint_tells_whether_a_key_sees_phones(client_a, db):
    headers = key(sees_phones=True)

    rows = client_a.get("/api/v1/api-keys/", **headers).json()["results"]

    assert rows[0]["sees_phones"] is True
    with schema_context("alpha"):
        assert make_api_key()[0].sees_phones is False


# --- guides, stores, group chats -----------------------------------------------------------


def test_guides_list_with_counts_and_filters(client_a, read_key):
    with schema_context("alpha"):
        store = StoreFactory()
        guide = GuideFactory(store=store, name="王导购")
        RelationFactory(guide=guide)
        RelationFactory(guide=guide, added_at=timezone.now() - timedelta(days=30))
        RelationFactory(
            guide=guide,
            status=Relation.Status.DELETED_BY_CUSTOMER,
            deleted_at=timezone.now() - timedelta(days=1),
            added_at=timezone.now() - timedelta(days=40),
        )
        departed = GuideFactory(store=store, status=Guide.Status.DEPARTED)
        GuideFactory()  # another store

    by_store = client_a.get("/api/v1/guides/", {"store": store.pk}, **read_key)
    active = client_a.get("/api/v1/guides/", {"store": store.pk, "status": "active"}, **read_key)
    by_name = client_a.get("/api/v1/guides/", {"q": "王导"}, **read_key)
    detail = client_a.get(f"/api/v1/guides/{guide.pk}/", **read_key).json()

    assert sorted(ids(by_store)) == sorted([guide.pk, departed.pk])
    assert ids(active) == [guide.pk]
    assert ids(by_name) == [guide.pk]
    assert detail["active_customers"] == 2
    assert detail["recent_adds"] == 1
    assert detail["recent_deletes"] == 1
    assert detail["store"]["id"] == store.pk


def test_stores_list(client_a, read_key):
    with schema_context("alpha"):
        stores = [StoreFactory(name=f"店{n}") for n in range(3)]

    response = client_a.get("/api/v1/stores/", **read_key)

    assert ids(response) == [s.pk for s in reversed(stores)]
    assert response.json()["results"][0]["department_id"] == stores[-1].department_id


def test_group_chats_list_and_detail_with_members(client_a, read_key):
    with schema_context("alpha"):
        chat = GroupChatFactory(name="VIP 群")
        guide = chat.owner
        GroupChatMemberFactory(
            chat=chat, kind=GroupChatMember.Kind.STAFF, userid=guide.userid, guide=guide
        )
        customer = CustomerFactory()
        GroupChatMemberFactory(chat=chat, userid=customer.external_userid, customer=customer)
        other = GroupChatFactory(status="dismissed")

    listed = client_a.get("/api/v1/group-chats/", **read_key)
    normal = client_a.get("/api/v1/group-chats/", {"status": "normal"}, **read_key)
    owned = client_a.get("/api/v1/group-chats/", {"owner": guide.pk}, **read_key)
    detail = client_a.get(f"/api/v1/group-chats/{chat.pk}/", **read_key).json()

    assert ids(listed) == [other.pk, chat.pk]
    assert ids(normal) == [chat.pk]
    assert ids(owned) == [chat.pk]
    assert detail["owner"]["userid"] == guide.userid
    assert [m["kind"] for m in detail["members"]] == [1, 2]
    assert detail["members"][1]["customer_id"] == customer.pk
    assert client_a.get("/api/v1/group-chats/999999/", **read_key).status_code == 404


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/customers/?added_from=2024-13-01", "added_from"),
        ("/api/v1/customers/?added_to=yesterday", "added_to"),
        ("/api/v1/customers/?added_from=2024-05-02&added_to=2024-05-01", "added_to"),
        ("/api/v1/customers/?status=befriended", "status"),
        ("/api/v1/customers/?guide=abc", "guide"),
        ("/api/v1/customers/?guide=99999999999999999999999", "guide"),
        ("/api/v1/customers/?store=-1", "store"),
        ("/api/v1/customers/?type=9", "type"),
        ("/api/v1/customers/?add_way=x", "add_way"),
        ("/api/v1/customers/?cursor=not-a-cursor", "cursor"),
        ("/api/v1/customers/?cursor=MjAyNC0wMS0wMQ", "cursor"),  # one value, two needed
        ("/api/v1/customers/?page_size=0", "page_size"),
        ("/api/v1/customers/?page_size=many", "page_size"),
        ("/api/v1/customers/abc/", "id"),
        ("/api/v1/customers/1.5/", "id"),
        ("/api/v1/customers/99999999999999999999/", "id"),
        ("/api/v1/customers/abc/timeline/", "id"),
        ("/api/v1/customers/1/timeline/?cursor=%%%", "cursor"),
        ("/api/v1/relations/?customer=x", "customer"),
        ("/api/v1/relations/abc/", "id"),
        ("/api/v1/guides/?status=gone", "status"),
        ("/api/v1/guides/?days=0", "days"),
        ("/api/v1/guides/x/", "id"),
        ("/api/v1/group-chats/?owner=1e3", "owner"),
        ("/api/v1/group-chats/x/", "id"),
        ("/api/v1/stores/?cursor=AAAA", "cursor"),
        ("/api/v1/contacts/sync/?limit=1000", "limit"),
        # one value asked for, several given: not silently the last one
        ("/api/v1/customers/?store=1&store=2", "store"),
        ("/api/v1/customers/?add_way=1&add_way=", "add_way"),
        ("/api/v1/customers/?page_size=5&page_size=", "page_size"),
        ("/api/v1/stores/?cursor=a&cursor=b", "cursor"),
        ("/api/v1/guides/?cursor=a&cursor=b", "cursor"),
    ],
)
def test_bad_parameters_get_400_naming_the_parameter(client_a, read_key, url, parameter):
    with schema_context("alpha"):
        CustomerFactory(pk=1)

    response = client_a.get(url, **read_key)

    assert response.status_code == 400, response.content
    assert parameter in response.json()
    assert response.json()[parameter][0]


def test_a_list_parameter_takes_every_value_given(client_a, read_key):
    response = client_a.get("/api/v1/customers/?tag=et1&tag=et2", **read_key)

    assert response.status_code == 200, response.content


def test_another_brands_key_cannot_read_this_brands_contacts(client_a, client_b, read_key):
    with schema_context("alpha"):
        relation = RelationFactory()
    with schema_context("beta"):
        _, beta_raw = make_api_key()
    beta = bearer(beta_raw)
    customer_id = relation.customer_id

    assert client_a.get(f"/api/v1/customers/{customer_id}/", **beta).status_code == 401
    assert client_b.get(f"/api/v1/customers/{customer_id}/", **beta).status_code == 404
    assert client_b.get(f"/api/v1/relations/{relation.pk}/", **beta).status_code == 404
    assert ids(client_b.get("/api/v1/customers/", **beta)) == []
    assert client_a.get(f"/api/v1/customers/{customer_id}/", **read_key).status_code == 200


# --- remark write-back ---------------------------------------------------------------------


def test_patch_needs_a_read_write_key(client_a, read_key):
    with schema_context("alpha"):
        relation = RelationFactory(remark="old")

    response = client_a.patch(
        f"/api/v1/relations/{relation.pk}/",
        {"remark": "new"},
        content_type="application/json",
        **read_key,
    )

    assert response.status_code == 403
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert relation.remark == "old"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"remark": "长" * 21}, "remark"),
        ({"description": "x" * 151}, "description"),
        ({"remark_mobiles": ["138-1234-5678"]}, "remark_mobiles"),
        ({"remark_mobiles": [str(13800000000 + n) for n in range(6)]}, "remark_mobiles"),
        ({"remark_mobiles": "13812345678"}, "remark_mobiles"),
        ({}, "non_field_errors"),
    ],
)
def test_patch_validation_errors_name_the_field_and_save_nothing(client_a, write_key, body, field):
    with schema_context("alpha"):
        relation = RelationFactory(remark="old", description="d", remark_mobiles=["1"])

    response = client_a.patch(
        f"/api/v1/relations/{relation.pk}/", body, content_type="application/json", **write_key
    )

    assert response.status_code == 400
    assert response.json()[field]
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert (relation.remark, relation.description, relation.remark_mobiles) == (
            "old",
            "d",
            ["1"],
        )
        assert not CustomerEvent.objects.filter(kind=CustomerEvent.Kind.EDITED).exists()


def test_put_is_not_offered(client_a, write_key):
    with schema_context("alpha"):
        relation = RelationFactory()

    response = client_a.put(
        f"/api/v1/relations/{relation.pk}/", {}, content_type="application/json", **write_key
    )

    assert response.status_code == 405


@pytest.fixture
def sandbox(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    wecom_sandbox.control.add_member(CORP_ID, "guide_api", notify=False)
    return wecom_sandbox


def test_patch_writes_the_remark_to_wecom_then_here(client_a, write_key, sandbox):
    sandbox.control.add_customer(
        CORP_ID, follows=[{"userid": "guide_api", "remark": "旧备注"}], external_userid="wmAPI01"
    )
    with schema_context("alpha"):
        relation = RelationFactory(
            guide=GuideFactory(userid="guide_api"),
            customer=CustomerFactory(external_userid="wmAPI01"),
            remark="旧备注",
        )

    response = client_a.patch(
        f"/api/v1/relations/{relation.pk}/",
        {"remark": "新备注", "description": "爱喝咖啡", "remark_mobiles": ["13812345678"]},
        content_type="application/json",
        **write_key,
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["remark"] == "新备注"
    assert body["remark_mobiles"] == ["138****5678"]  # this key does not see phones
    follow = sandbox.control.customer(CORP_ID, "wmAPI01")
    assert "新备注" in str(follow)
    assert "13812345678" in str(follow)
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert relation.remark == "新备注"
        assert relation.remark_mobiles == ["13812345678"]
        assert CustomerEvent.objects.filter(
            customer_id=relation.customer_id, kind=CustomerEvent.Kind.EDITED
        ).exists()
        entry = AuditLogEntry.objects.get(action="contacts.remark_updated")
        assert entry.actor_type == AuditLogEntry.ActorType.API_KEY


def test_wecom_refusal_answers_502_with_errcode_and_saves_nothing(client_a, write_key, sandbox):
    with schema_context("alpha"):
        relation = RelationFactory(
            guide=GuideFactory(userid="guide_api"),
            customer=CustomerFactory(external_userid="wmNOTINWECOM"),
            remark="旧备注",
        )

    response = client_a.patch(
        f"/api/v1/relations/{relation.pk}/",
        {"remark": "新备注"},
        content_type="application/json",
        **write_key,
    )

    assert response.status_code == 502
    body = response.json()
    assert isinstance(body["errcode"], int)
    assert body["errcode"] != 0
    assert body["detail"]
    assert body["meaning"]
    assert body["retryable"] is False
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert relation.remark == "旧备注"
        assert not CustomerEvent.objects.filter(kind=CustomerEvent.Kind.EDITED).exists()


def test_patch_without_a_wecom_connection_answers_409_and_saves_nothing(client_a, write_key):
    with schema_context("alpha"):
        relation = RelationFactory(remark="旧备注")

    response = client_a.patch(
        f"/api/v1/relations/{relation.pk}/",
        {"remark": "新备注"},
        content_type="application/json",
        **write_key,
    )

    assert response.status_code == 409
    assert response.json()["errcode"] is None
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert relation.remark == "旧备注"


# --- sync ----------------------------------------------------------------------------------


def test_starting_a_sync_needs_a_read_write_key(client_a, read_key):
    response = client_a.post("/api/v1/contacts/sync/", **read_key)

    assert response.status_code == 403
    with schema_context("alpha"):
        assert not SyncRun.objects.exists()


def test_start_a_sync_then_409_while_it_runs(client_a, write_key):
    started = client_a.post("/api/v1/contacts/sync/", **write_key)
    again = client_a.post("/api/v1/contacts/sync/", **write_key)
    listed = client_a.get("/api/v1/contacts/sync/", **write_key)

    assert started.status_code == 202, started.content
    run = started.json()
    assert (run["status"], run["phase"]) == ("queued", "directory")
    assert run["progress"]["guide_batches_done"] == 0
    assert again.status_code == 409
    assert again.json()["run"]["id"] == run["id"]
    assert [r["id"] for r in listed.json()["results"]] == [run["id"]]
    with schema_context("alpha"):
        assert SyncRun.objects.get().trigger == "api"
        entry = AuditLogEntry.objects.get(action="contacts.sync_started")
        assert entry.actor_type == AuditLogEntry.ActorType.API_KEY
