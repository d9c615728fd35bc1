"""The tags REST API, as an integrator's HTTP client sees it, against the WeCom sandbox."""

from itertools import count

import pytest
from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.services import api_key_create
from accounts.tests.factories import bearer
from contacts.models import CustomerEvent
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging.models import Tag, TagChange, TagGroup
from tagging.services import tags_add

CORP_ID = "wwtagapitest0001"
# Every request: tenant routing (3) and the key lookup (1).
PER_REQUEST = 4
_ids = count(1)


def key(scope: str = APIKey.Scope.READ, schema: str = "alpha") -> dict[str, str]:
    with schema_context(schema):
        _, raw_key = api_key_create(name="CRM", scope=scope, created_by=None)
    return bearer(raw_key)


@pytest.fixture
def read_key(db) -> dict[str, str]:
    return key()


@pytest.fixture
def write_key(db) -> dict[str, str]:
    return key(APIKey.Scope.READ_WRITE)


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    return wecom_sandbox.control


def make_group(name: str, tag_names: list[str]) -> tuple[TagGroup, list[Tag]]:
    """Catalogue rows as a pull would leave them (no WeCom call)."""
    group = TagGroup.objects.create(group_id=f"etGROUP{next(_ids):06d}", name=name)
    tags = [
        Tag.objects.create(tag_id=f"etTAG{next(_ids):08d}", group=group, name=tag_name)
        for tag_name in tag_names
    ]
    return group, tags


def wecom_catalogue() -> dict[str, tuple[str, list[str]]]:
    from scrm.wecom.client import wecom_client

    with schema_context("alpha"):
        groups = wecom_client().post("externalcontact/get_corp_tag_list", data={})["tag_group"]
    return {g["group_id"]: (g["group_name"], sorted(t["name"] for t in g["tag"])) for g in groups}


def our_catalogue() -> dict[str, tuple[str, list[str]]]:
    with schema_context("alpha"):
        return {
            g.group_id: (g.name, sorted(g.tags.values_list("name", flat=True)))
            for g in TagGroup.objects.all()
        }


def post(client, url, body, headers):
    return client.post(url, body, content_type="application/json", **headers)


def patch(client, url, body, headers):
    return client.patch(url, body, content_type="application/json", **headers)


# --- reading the catalogue ------------------------------------------------------------------


def test_groups_list_with_tags_in_wecom_order_and_optional_counts(client_a, read_key):
    with schema_context("alpha"):
        make_group("偏好", ["口红"])
        high, (gold, silver) = make_group("会员", ["金卡", "银卡"])
        TagGroup.objects.filter(pk=high.pk).update(order=10)
        Tag.objects.filter(pk=silver.pk).update(order=5)  # WeCom: higher order first
        customer = CustomerFactory()
        RelationFactory(customer=customer, wecom_tag_ids=[gold.tag_id])
        RelationFactory(customer=customer, wecom_tag_ids=[gold.tag_id, silver.tag_id])
        RelationFactory(wecom_tag_ids=[gold.tag_id])

    plain = client_a.get("/api/v1/tag-groups/", **read_key)
    counted = client_a.get("/api/v1/tag-groups/", {"counts": "1"}, **read_key)

    assert plain.status_code == 200, plain.content
    groups = plain.json()["results"]
    assert [g["name"] for g in groups] == ["会员", "偏好"]
    assert [t["name"] for t in groups[0]["tags"]] == ["银卡", "金卡"]
    assert groups[0]["group_id"] == high.group_id
    assert groups[0]["tags"][1]["tag_id"] == gold.tag_id
    assert {t["customer_count"] for g in groups for t in g["tags"]} == {None}
    counts = {t["name"]: t["customer_count"] for g in counted.json()["results"] for t in g["tags"]}
    assert counts == {"金卡": 2, "银卡": 1, "口红": 0}


@pytest.mark.parametrize("groups", [2, 15])
@pytest.mark.parametrize(
    ("query", "queries"), [({}, PER_REQUEST + 2), ({"counts": 1}, PER_REQUEST + 3)]
)
def test_groups_list_queries_do_not_grow_with_the_catalogue(
    client_a, read_key, django_assert_num_queries, groups, query, queries
):
    with schema_context("alpha"):
        for index in range(groups):
            _, tags = make_group(f"组{index}", [f"标签{index}-{n}" for n in range(4)])
            RelationFactory(wecom_tag_ids=[tags[0].tag_id])

    # + the groups, their tags (+ the counts aggregate)
    with django_assert_num_queries(queries):
        response = client_a.get("/api/v1/tag-groups/", query, **read_key)

    assert len(response.json()["results"]) == groups


def test_one_group_and_one_tag(client_a, read_key):
    with schema_context("alpha"):
        group, (gold,) = make_group("会员", ["金卡"])

    group_body = client_a.get(f"/api/v1/tag-groups/{group.group_id}/", **read_key).json()
    tag_body = client_a.get(f"/api/v1/tags/{gold.tag_id}/", **read_key).json()

    assert group_body["name"] == "会员"
    assert [t["tag_id"] for t in group_body["tags"]] == [gold.tag_id]
    assert tag_body["name"] == "金卡"
    assert tag_body["group_id"] == group.group_id


# --- editing the catalogue -------------------------------------------------------------------


def test_create_add_rename_delete_go_to_wecom_first(client_a, write_key, corp):
    response = post(
        client_a, "/api/v1/tag-groups/", {"name": "会员", "tags": ["金卡", "银卡"]}, write_key
    )
    assert response.status_code == 201, response.content
    group = response.json()
    group_id = group["group_id"]
    assert sorted(t["name"] for t in group["tags"]) == ["金卡", "银卡"]
    assert wecom_catalogue() == our_catalogue() == {group_id: ("会员", ["金卡", "银卡"])}

    response = post(
        client_a, f"/api/v1/tag-groups/{group_id}/tags/", {"tags": ["白金卡"]}, write_key
    )
    assert response.status_code == 201, response.content
    assert sorted(t["name"] for t in response.json()["tags"]) == ["白金卡", "金卡", "银卡"]
    silver = next(t for t in response.json()["tags"] if t["name"] == "银卡")

    response = patch(client_a, f"/api/v1/tags/{silver['tag_id']}/", {"name": "银卡会员"}, write_key)
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "银卡会员"
    response = patch(client_a, f"/api/v1/tag-groups/{group_id}/", {"name": "会员等级"}, write_key)
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "会员等级"
    gold = next(t for t in group["tags"] if t["name"] == "金卡")
    assert client_a.delete(f"/api/v1/tags/{gold['tag_id']}/", **write_key).status_code == 204

    assert wecom_catalogue() == our_catalogue() == {group_id: ("会员等级", ["白金卡", "银卡会员"])}
    with schema_context("alpha"):
        assert set(TagChange.objects.values_list("source", flat=True)) == {"api"}
        [label] = set(TagChange.objects.values_list("actor_label", flat=True))
        assert label.startswith("CRM")  # the key's name (and prefix)
        audit = AuditLogEntry.objects.filter(action__startswith="tags.")
        assert sorted(audit.values_list("action", flat=True)) == [
            "tags.created",
            "tags.created",
            "tags.deleted",
            "tags.renamed",
            "tags.renamed",
        ]
        assert {e.actor_type for e in audit} == {AuditLogEntry.ActorType.API_KEY}

    assert client_a.delete(f"/api/v1/tag-groups/{group_id}/", **write_key).status_code == 204
    assert wecom_catalogue() == our_catalogue() == {}


def test_writes_need_a_read_write_key(client_a, read_key):
    with schema_context("alpha"):
        group, (gold,) = make_group("会员", ["金卡"])
        relation = RelationFactory()

    responses = [
        post(client_a, "/api/v1/tag-groups/", {"name": "新", "tags": ["a"]}, read_key),
        post(client_a, f"/api/v1/tag-groups/{group.group_id}/tags/", {"tags": ["a"]}, read_key),
        patch(client_a, f"/api/v1/tags/{gold.tag_id}/", {"name": "b"}, read_key),
        patch(client_a, f"/api/v1/tag-groups/{group.group_id}/", {"name": "b"}, read_key),
        client_a.delete(f"/api/v1/tags/{gold.tag_id}/", **read_key),
        client_a.delete(f"/api/v1/tag-groups/{group.group_id}/", **read_key),
        post(client_a, f"/api/v1/relations/{relation.pk}/tags/", {"add": [gold.tag_id]}, read_key),
    ]

    assert [r.status_code for r in responses] == [403] * len(responses)
    assert our_catalogue() == {group.group_id: ("会员", ["金卡"])}


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/tag-groups/", {"name": "会员", "tags": []}, "tags"),
        ("/api/v1/tag-groups/", {"name": "会员", "tags": ["长" * 31]}, "tags"),
        ("/api/v1/tag-groups/", {"name": "长" * 31, "tags": ["金卡"]}, "name"),
        ("/api/v1/tag-groups/", {"tags": ["金卡"]}, "name"),
        ("/api/v1/tag-groups/", {"name": "会员", "tags": "金卡"}, "tags"),
        ("/api/v1/tag-groups/", {"name": "会员", "tags": ["  "]}, "tags"),
    ],
)
def test_bad_fields_answer_400_naming_the_field(client_a, write_key, url, body, field):
    response = post(client_a, url, body, write_key)

    assert response.status_code == 400, response.content
    assert response.json()[field]


def test_edits_wecom_would_refuse_answer_400_and_send_nothing(client_a, write_key, corp):
    with schema_context("alpha"):
        [gold, silver] = tags_add(group_name="会员", names=["金卡", "银卡"], actor=None)
    group_id = gold.group.group_id

    taken_group = post(client_a, "/api/v1/tag-groups/", {"name": "会员", "tags": ["x"]}, write_key)
    taken_tag = post(
        client_a, f"/api/v1/tag-groups/{group_id}/tags/", {"tags": ["金卡"]}, write_key
    )
    clash = patch(client_a, f"/api/v1/tags/{silver.tag_id}/", {"name": "金卡"}, write_key)
    blank = patch(client_a, f"/api/v1/tags/{silver.tag_id}/", {"name": "  "}, write_key)

    assert taken_group.status_code == 400
    assert "会员" in taken_group.json()["non_field_errors"][0]
    assert taken_tag.status_code == 400
    assert "金卡" in taken_tag.json()["non_field_errors"][0]
    assert clash.status_code == 400
    assert "金卡" in clash.json()["non_field_errors"][0]
    assert blank.status_code == 400
    assert blank.json()["name"]
    assert wecom_catalogue() == our_catalogue() == {group_id: ("会员", ["金卡", "银卡"])}


def test_unknown_ids_answer_404(client_a, write_key, read_key):
    responses = [
        client_a.get("/api/v1/tag-groups/etNOPE/", **read_key),
        client_a.get("/api/v1/tags/etNOPE/", **read_key),
        patch(client_a, "/api/v1/tags/etNOPE/", {"name": "x"}, write_key),
        patch(client_a, "/api/v1/tag-groups/etNOPE/", {"name": "x"}, write_key),
        client_a.delete("/api/v1/tags/etNOPE/", **write_key),
        client_a.delete("/api/v1/tag-groups/etNOPE/", **write_key),
        post(client_a, "/api/v1/tag-groups/etNOPE/tags/", {"tags": ["x"]}, write_key),
        post(client_a, "/api/v1/relations/999999/tags/", {"add": ["etX"]}, write_key),
    ]

    assert [r.status_code for r in responses] == [404] * len(responses)
    assert all(r.json()["detail"] for r in responses)
    bad_id = post(client_a, "/api/v1/relations/abc/tags/", {"add": ["etX"]}, write_key)
    assert bad_id.status_code == 400
    assert bad_id.json()["id"]
    bad_param = client_a.get("/api/v1/tag-groups/", {"counts": "maybe"}, **read_key)
    assert bad_param.status_code == 400
    assert bad_param.json()["counts"]


def test_a_wecom_refusal_answers_502_with_errcode_and_saves_nothing(client_a, write_key, corp):
    with schema_context("alpha"):
        [gold] = tags_add(group_name="会员", names=["金卡"], actor=None)
    corp.set_faults({"externalcontact/edit_corp_tag": {"error_rate": 1.0, "errcode": 40058}})
    try:
        response = patch(client_a, f"/api/v1/tags/{gold.tag_id}/", {"name": "黄金卡"}, write_key)
    finally:
        corp.clear_faults()

    assert response.status_code == 502, response.content
    assert response.json() == {
        "detail": response.json()["detail"],
        "errcode": 40058,
        "meaning": "参数不合法",
        "retryable": False,
    }
    assert response.json()["detail"]
    with schema_context("alpha"):
        assert Tag.objects.get(tag_id=gold.tag_id).name == "金卡"
        assert not TagChange.objects.filter(kind="renamed").exists()


def test_without_a_wecom_connection_edits_answer_409(client_a, write_key):
    response = post(client_a, "/api/v1/tag-groups/", {"name": "会员", "tags": ["金卡"]}, write_key)

    assert response.status_code == 409
    assert "尚未连接企业微信" in response.json()["detail"]
    assert response.json()["errcode"] is None
    with schema_context("alpha"):
        assert not TagGroup.objects.exists()


# --- a relation's tags ------------------------------------------------------------------------


@pytest.fixture
def relation(corp):
    corp.add_member(CORP_ID, "amy", notify=False)
    corp.add_customer(CORP_ID, external_userid="wmAPITAG01", follows=[{"userid": "amy"}])
    with schema_context("alpha"):
        return RelationFactory(
            guide=GuideFactory(userid="amy"),
            customer=CustomerFactory(external_userid="wmAPITAG01"),
        )


def wecom_tags(corp) -> list[str]:
    [follow] = corp.customer(CORP_ID, "wmAPITAG01")["follows"]
    return sorted(t["tag_id"] for t in follow["tags"])


def test_integrator_marks_and_unmarks_tags_on_a_relation(client_a, write_key, relation, corp):
    with schema_context("alpha"):
        gold, vip = tags_add(group_name="会员", names=["金卡", "VIP"], actor=None)
    url = f"/api/v1/relations/{relation.pk}/tags/"

    response = post(client_a, url, {"add": [gold.tag_id, vip.tag_id]}, write_key)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == relation.pk
    assert body["wecom_tag_ids"] == sorted([gold.tag_id, vip.tag_id])
    assert {(t["tag_id"], t["name"], t["group_name"]) for t in body["tags"]} == {
        (gold.tag_id, "金卡", "会员"),
        (vip.tag_id, "VIP", "会员"),
    }
    assert wecom_tags(corp) == body["wecom_tag_ids"]

    response = post(client_a, url, {"remove": [gold.tag_id]}, write_key)

    assert response.json()["wecom_tag_ids"] == [vip.tag_id]
    assert wecom_tags(corp) == [vip.tag_id]
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert relation.wecom_tag_ids == [vip.tag_id]
        entries = CustomerEvent.objects.filter(kind="tagged", customer_id=relation.customer_id)
        [by] = {e.data["by"] for e in entries}
        assert by.startswith("CRM")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"add": [], "remove": []}, "non_field_errors"),
        ({"add": "etX"}, "add"),
        ({"add": ["x" * 65]}, "add"),
    ],
)
def test_bad_relation_tag_bodies_answer_400(client_a, write_key, body, field):
    with schema_context("alpha"):
        relation = RelationFactory()

    response = post(client_a, f"/api/v1/relations/{relation.pk}/tags/", body, write_key)

    assert response.status_code == 400, response.content
    assert response.json()[field]


def test_an_unknown_tag_is_refused_before_wecom(client_a, write_key, relation, corp):
    response = post(
        client_a, f"/api/v1/relations/{relation.pk}/tags/", {"add": ["etNOTATAG"]}, write_key
    )

    assert response.status_code == 400
    assert "etNOTATAG" in response.json()["non_field_errors"][0]
    assert wecom_tags(corp) == []


def test_wecom_refusing_a_mark_answers_502_and_saves_nothing(client_a, write_key, corp):
    corp.add_member(CORP_ID, "amy", notify=False)
    corp.add_member(CORP_ID, "bo", notify=False)
    corp.add_customer(CORP_ID, external_userid="wmAPITAG02", follows=[{"userid": "bo"}])
    with schema_context("alpha"):
        [gold] = tags_add(group_name="会员", names=["金卡"], actor=None)
        relation = RelationFactory(
            guide=GuideFactory(userid="amy"),
            customer=CustomerFactory(external_userid="wmAPITAG02"),
        )

    response = post(
        client_a, f"/api/v1/relations/{relation.pk}/tags/", {"add": [gold.tag_id]}, write_key
    )

    assert response.status_code == 502, response.content
    assert response.json()["errcode"] == 84061
    assert response.json()["meaning"] == "不存在外部联系人关系"
    assert response.json()["retryable"] is False
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert relation.wecom_tag_ids == []


# --- tenants ----------------------------------------------------------------------------------


def test_another_brands_key_cannot_see_or_edit_this_brands_tags(client_a, client_b, read_key):
    with schema_context("alpha"):
        group, (gold,) = make_group("阿尔法会员", ["阿尔法金卡"])
        relation = RelationFactory(wecom_tag_ids=[gold.tag_id])
    beta = key(APIKey.Scope.READ_WRITE, schema="beta")

    assert client_a.get("/api/v1/tag-groups/", **beta).status_code == 401
    assert client_b.get("/api/v1/tag-groups/", **beta).json() == {"results": []}
    assert client_b.get(f"/api/v1/tags/{gold.tag_id}/", **beta).status_code == 404
    assert patch(client_b, f"/api/v1/tags/{gold.tag_id}/", {"name": "x"}, beta).status_code == 404
    assert client_b.delete(f"/api/v1/tag-groups/{group.group_id}/", **beta).status_code == 404
    assert (
        post(client_b, f"/api/v1/relations/{relation.pk}/tags/", {"remove": [gold.tag_id]}, beta)
    ).status_code == 404
    assert client_a.get(f"/api/v1/tags/{gold.tag_id}/", **read_key).status_code == 200
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert relation.wecom_tag_ids == [gold.tag_id]
