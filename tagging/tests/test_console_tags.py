"""The tag console: the catalogue page, its edits (pushed to the WeCom sandbox), and tags on
the customer page."""

import re
from html import unescape
from itertools import count

import pytest
from django.conf import settings
from django.core.cache import cache
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import UserFactory
from contacts.models import CustomerEvent
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging.models import Tag, TagChange, TagGroup
from tagging.services import tags_add

CORP_ID = "wwtagconsole0001"
_ids = count(1)


def login(client, role: str, schema: str = "alpha"):
    with schema_context(schema):
        user = UserFactory(role=role)
        client.force_login(user)
    return user


def in_english(client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def body_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.content.decode())


def make_group(name: str, tag_names: list[str]) -> tuple[TagGroup, list[Tag]]:
    """Catalogue rows as a pull would leave them (no WeCom call)."""
    group = TagGroup.objects.create(group_id=f"etGROUP{next(_ids):06d}", name=name)
    tags = [
        Tag.objects.create(tag_id=f"etTAG{next(_ids):08d}", group=group, name=tag_name)
        for tag_name in tag_names
    ]
    return group, tags


def shown_counts(body: str) -> dict[str, int]:
    return {
        tag_id: int(number)
        for tag_id, number in re.findall(r'data-tag-count="([^"]+)">(\d+)<', body)
    }


def wecom_catalogue() -> dict[str, tuple[str, list[str]]]:
    """What WeCom (the sandbox) holds, read over HTTP."""
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


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    return wecom_sandbox.control


# --- the catalogue page -------------------------------------------------------------------


def test_list_shows_groups_tags_and_distinct_customer_counts(db, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    with schema_context("alpha"):
        _, (gold, silver) = make_group("会员等级", ["金卡", "银卡"])
        _, (lipstick,) = make_group("偏好", ["口红"])
        shared = CustomerFactory()
        # one customer tagged by two guides counts once
        RelationFactory(customer=shared, wecom_tag_ids=[gold.tag_id, lipstick.tag_id])
        RelationFactory(customer=shared, wecom_tag_ids=[gold.tag_id])
        RelationFactory(wecom_tag_ids=[gold.tag_id])
        RelationFactory(wecom_tag_ids=["etNOTINCATALOGUE"])

    body = body_of(client_a.get("/tags/"))

    for text in (
        "会员等级",
        "金卡",
        "银卡",
        "偏好",
        "口红",
        "Customer counts refresh every minute",
    ):
        assert text in body
    assert shown_counts(body) == {gold.tag_id: 2, silver.tag_id: 0, lipstick.tag_id: 1}
    assert 'href="/tags/' in body
    assert "Pull from WeCom" not in body  # a viewer reads, never edits
    assert "/rename/" not in body


def test_customer_counts_are_cached_a_minute_per_tenant(db, client_a):
    login(client_a, "operator")
    with schema_context("alpha"):
        _, (gold,) = make_group("会员", ["金卡"])
        RelationFactory(wecom_tag_ids=[gold.tag_id])
    assert shown_counts(body_of(client_a.get("/tags/")))[gold.tag_id] == 1

    with schema_context("alpha"):
        RelationFactory(wecom_tag_ids=[gold.tag_id])
    assert shown_counts(body_of(client_a.get("/tags/")))[gold.tag_id] == 1  # cached

    with schema_context("alpha"):
        # the key names the tenant's schema; once it expires the count is fresh
        assert cache.get("tagging:tag-customer-counts:alpha") == {gold.tag_id: 1}
        cache.delete("tagging:tag-customer-counts:alpha")
    assert shown_counts(body_of(client_a.get("/tags/")))[gold.tag_id] == 2


@pytest.mark.parametrize("groups", [2, 12])
def test_list_query_count_does_not_grow_with_the_catalogue(
    db, client_a, django_assert_num_queries, groups
):
    login(client_a, "admin")
    with schema_context("alpha"):
        for index in range(groups):
            _, tags = make_group(f"组{index}", [f"标签{index}-{n}" for n in range(5)])
            RelationFactory(wecom_tag_ids=[tag.tag_id for tag in tags[:2]])
            TagChange.objects.create(
                kind="created", source="wecom", wecom_id=tags[0].tag_id, name=tags[0].name
            )

    # routing and session (5) + groups, their tags, the counts aggregate, recent changes
    with django_assert_num_queries(9):
        response = client_a.get("/tags/")

    assert len(shown_counts(body_of(response))) == groups * 5


def test_recent_changes_say_where_who_and_before_after(db, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    with schema_context("alpha"):
        TagChange.objects.create(
            kind="renamed", source="wecom", wecom_id="etX1", name="唇妆", before="口红"
        )
        TagChange.objects.create(
            kind="created",
            source="console",
            is_group=True,
            wecom_id="etG1",
            name="会员",
            actor_label="yunying",
        )

    body = body_of(client_a.get("/tags/"))

    assert "口红 → 唇妆" in body
    assert "Tag renamed" in body
    assert "Group created" in body
    assert "yunying" in body
    assert "WeCom" in body


def test_console_pages_need_a_login(db, client_a):
    for url in ("/tags/", "/tags/groups/x/rename/", "/tags/x/delete/"):
        response = client_a.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_a_viewer_cannot_edit(db, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        group, (gold,) = make_group("会员", ["金卡"])
        relation = RelationFactory(wecom_tag_ids=[gold.tag_id])

    assert client_a.post("/tags/groups/new/", {"group_name": "新", "tags": "a"}).status_code == 403
    assert client_a.get(f"/tags/{gold.tag_id}/rename/").status_code == 403
    assert client_a.post(f"/tags/{gold.tag_id}/delete/").status_code == 403
    assert client_a.post(f"/tags/groups/{group.group_id}/delete/").status_code == 403
    assert client_a.post("/tags/pull/").status_code == 403
    assert (
        client_a.post(f"/tags/relations/{relation.pk}/", {"remove": gold.tag_id}).status_code == 403
    )
    with schema_context("alpha"):
        assert Tag.objects.filter(tag_id=gold.tag_id).exists()
        relation.refresh_from_db()
        assert relation.wecom_tag_ids == [gold.tag_id]


# --- edits, through the console, reaching WeCom -------------------------------------------


def test_create_add_rename_delete_reach_wecom(corp, client_a):
    operator = login(client_a, "operator")

    response = client_a.post(
        "/tags/groups/new/", {"group_name": "会员等级", "tags": "金卡\n银卡, 铜卡"}
    )
    assert response.status_code == 302
    [group_id] = our_catalogue()
    assert response["Location"] == f"/tags/#group-{group_id}"
    assert (
        wecom_catalogue() == our_catalogue() == {group_id: ("会员等级", ["金卡", "铜卡", "银卡"])}
    )
    assert "“会员等级”" in body_of(client_a.get(response["Location"]))  # the confirmation

    response = client_a.post(f"/tags/groups/{group_id}/add/", {"tags": "白金卡"})
    assert response.status_code == 302
    with schema_context("alpha"):
        silver = Tag.objects.get(name="银卡")
        bronze = Tag.objects.get(name="铜卡")

    assert 'value="银卡"' in body_of(client_a.get(f"/tags/{silver.tag_id}/rename/"))
    assert client_a.post(f"/tags/{silver.tag_id}/rename/", {"name": "银卡会员"}).status_code == 302
    assert client_a.post(f"/tags/groups/{group_id}/rename/", {"name": "会员"}).status_code == 302
    assert client_a.post(f"/tags/{bronze.tag_id}/delete/").status_code == 302

    assert (
        wecom_catalogue() == our_catalogue() == {group_id: ("会员", ["白金卡", "金卡", "银卡会员"])}
    )
    with schema_context("alpha"):
        changes = TagChange.objects.all()
        assert {c.source for c in changes} == {"console"}
        assert {c.actor_label for c in changes} == {operator.username}
        assert sorted(changes.values_list("kind", "is_group")) == [
            ("created", False),
            ("created", False),
            ("created", False),
            ("created", False),
            ("created", True),
            ("deleted", False),
            ("renamed", False),
            ("renamed", True),
        ]
        audit = AuditLogEntry.objects.filter(action__startswith="tags.")
        assert {e.actor_label for e in audit} == {operator.username}

    assert client_a.post(f"/tags/groups/{group_id}/delete/").status_code == 302
    assert wecom_catalogue() == our_catalogue() == {}


def test_delete_confirmation_says_how_many_customers_carry_it(db, client_a):
    login(client_a, "admin")
    in_english(client_a)
    with schema_context("alpha"):
        group, (gold, silver) = make_group("会员", ["金卡", "银卡"])
        ana, bo, cy = CustomerFactory(), CustomerFactory(), CustomerFactory()
        RelationFactory(customer=ana, wecom_tag_ids=[gold.tag_id])
        RelationFactory(customer=ana, wecom_tag_ids=[gold.tag_id, silver.tag_id])
        RelationFactory(customer=bo, wecom_tag_ids=[gold.tag_id])
        RelationFactory(customer=cy, wecom_tag_ids=[silver.tag_id])
        RelationFactory(wecom_tag_ids=[])

    tag_page = body_of(client_a.get(f"/tags/{gold.tag_id}/delete/"))
    group_page = body_of(client_a.get(f"/tags/groups/{group.group_id}/delete/"))

    assert "Delete the tag “金卡”?" in tag_page
    assert "Customers carrying this tag: 2." in tag_page
    assert "Customers carrying a tag of this group: 3." in group_page
    assert "银卡" in group_page
    with schema_context("alpha"):
        assert Tag.objects.count() == 2  # a GET only asks


def test_a_wecom_refusal_is_shown_to_the_operator_and_saves_nothing(corp, client_a):
    login(client_a, "operator")
    corp.set_faults({"externalcontact/add_corp_tag": {"error_rate": 1.0, "errcode": 40058}})
    try:
        response = client_a.post("/tags/groups/new/", {"group_name": "会员", "tags": "金卡"})
    finally:
        corp.clear_faults()

    body = body_of(response)  # the page again, with the message: never a 500
    assert "40058" in body
    assert "参数不合法" in body  # the errcode's meaning, in the console's language
    assert 'value="会员"' in body  # what the operator typed is kept
    assert our_catalogue() == wecom_catalogue() == {}


def test_a_tag_deleted_in_wecom_meanwhile_is_refused_with_a_message(corp, client_a):
    login(client_a, "operator")
    in_english(client_a)
    with schema_context("alpha"):
        [gold] = tags_add(group_name="会员", names=["金卡"], actor=None)
    corp.console_corp_tags(CORP_ID, "delete", tag_id=[gold.tag_id])  # callback never delivered

    response = client_a.post(f"/tags/{gold.tag_id}/rename/", {"name": "黄金卡"}, follow=True)

    body = body_of(response)
    assert "WeCom refused the change (errcode 40068" in body
    assert "nothing was changed" in body
    with schema_context("alpha"):
        assert Tag.objects.get(tag_id=gold.tag_id).name == "金卡"


def test_input_errors_are_explained_before_anything_is_sent(corp, client_a):
    login(client_a, "operator")
    in_english(client_a)
    with schema_context("alpha"):
        [gold] = tags_add(group_name="会员", names=["金卡"], actor=None)

    too_long = body_of(
        client_a.post("/tags/groups/new/", {"group_name": "新组", "tags": "长" * 31})
    )
    empty = body_of(client_a.post("/tags/groups/new/", {"group_name": "新组", "tags": " , "}))
    taken = body_of(client_a.post("/tags/groups/new/", {"group_name": "会员", "tags": "银卡"}))
    again = body_of(client_a.post(f"/tags/groups/{gold.group.group_id}/add/", {"tags": "金卡"}))

    assert "Names are at most 30 characters" in too_long
    assert "Give at least one tag name." in empty
    assert "Nothing was changed: a tag group named “会员” exists" in taken
    assert "Nothing was changed: already in this group: 金卡" in again
    assert wecom_catalogue() == our_catalogue()
    assert list(our_catalogue().values()) == [("会员", ["金卡"])]


def test_pull_from_wecom_brings_tags_made_in_wecom(corp, client_a):
    login(client_a, "admin")
    in_english(client_a)
    corp.console_corp_tags(CORP_ID, "create", group_name="渠道", tags=["门店", "直播"])

    response = client_a.post("/tags/pull/", follow=True)

    body = body_of(response)
    assert "Pulled from WeCom: 3 created" in body
    assert "直播" in body
    assert our_catalogue() == wecom_catalogue()
    body = body_of(client_a.post("/tags/pull/", follow=True))
    assert "already up to date" in body


def test_pull_without_a_wecom_connection_says_so(db, client_a):
    login(client_a, "admin")
    in_english(client_a)

    body = body_of(client_a.post("/tags/pull/", follow=True))

    assert "not connected to WeCom" in body


# --- tags on the customer page ------------------------------------------------------------


@pytest.fixture
def relation(corp):
    corp.add_member(CORP_ID, "amy", name="Amy", notify=False)
    corp.add_customer(CORP_ID, external_userid="wmCONSOLE01", follows=[{"userid": "amy"}])
    with schema_context("alpha"):
        return RelationFactory(
            guide=GuideFactory(userid="amy", name="Amy"),
            customer=CustomerFactory(external_userid="wmCONSOLE01"),
        )


def wecom_tags_of(corp, external_userid: str) -> list[str]:
    [follow] = corp.customer(CORP_ID, external_userid)["follows"]
    return sorted(t["tag_id"] for t in follow["tags"])


def test_operator_tags_and_untags_a_relation_from_the_customer_page(corp, relation, client_a):
    operator = login(client_a, "operator")
    in_english(client_a)
    with schema_context("alpha"):
        gold, vip = tags_add(group_name="会员", names=["金卡", "VIP"], actor=None)
    page = f"/customers/{relation.customer_id}/"
    body = body_of(client_a.get(page))
    assert f'action="/tags/relations/{relation.pk}/"' in body
    assert f'<option value="{gold.tag_id}">金卡</option>' in body

    response = client_a.post(f"/tags/relations/{relation.pk}/", {"add": gold.tag_id})

    assert response.status_code == 302
    assert response["Location"] == f"{page}#relation-{relation.pk}"
    assert wecom_tags_of(corp, "wmCONSOLE01") == [gold.tag_id]
    body = body_of(client_a.get(page))
    assert "Tagged “金卡” on Amy's relation" in body
    assert '<span class="chip" title="会员' in body
    assert f'<option value="{gold.tag_id}">' not in body  # carried: no longer offered
    assert f'<option value="{vip.tag_id}">VIP</option>' in body

    client_a.post(f"/tags/relations/{relation.pk}/", {"add": vip.tag_id})
    client_a.post(f"/tags/relations/{relation.pk}/", {"remove": gold.tag_id})

    assert wecom_tags_of(corp, "wmCONSOLE01") == [vip.tag_id]
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert relation.wecom_tag_ids == [vip.tag_id]
        tagged = CustomerEvent.objects.filter(kind="tagged").order_by("id")
        assert [(e.data["added"], e.data["removed"]) for e in tagged] == [
            ([gold.tag_id], []),
            ([vip.tag_id], []),
            ([], [gold.tag_id]),
        ]
        assert {e.data["by"] for e in tagged} == {operator.username}


def test_a_wecom_refusal_on_marking_is_shown_on_the_customer_page(corp, client_a):
    login(client_a, "operator")
    corp.add_member(CORP_ID, "amy", notify=False)
    corp.add_member(CORP_ID, "bo", notify=False)
    corp.add_customer(CORP_ID, external_userid="wmGONE0001", follows=[{"userid": "bo"}])
    with schema_context("alpha"):
        [gold] = tags_add(group_name="会员", names=["金卡"], actor=None)
        # a relation WeCom no longer has (amy's customer left before we heard of it)
        relation = RelationFactory(
            guide=GuideFactory(userid="amy"),
            customer=CustomerFactory(external_userid="wmGONE0001"),
        )

    response = client_a.post(f"/tags/relations/{relation.pk}/", {"add": gold.tag_id}, follow=True)

    body = body_of(response)
    assert "84061" in body
    assert "不存在外部联系人关系" in body
    with schema_context("alpha"):
        relation.refresh_from_db()
        assert relation.wecom_tag_ids == []
        assert not CustomerEvent.objects.filter(kind="tagged").exists()


def test_customer_page_shows_tag_names_and_unknown_ids_to_a_viewer(db, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        _, (gold,) = make_group("会员", ["金卡"])
        relation = RelationFactory(wecom_tag_ids=[gold.tag_id, "etUNKNOWN01"])

    body = body_of(client_a.get(f"/customers/{relation.customer_id}/"))

    assert ">金卡<" in body
    assert "<code>etUNKNOWN01</code>" in body
    assert "/tags/relations/" not in body  # viewers get no tag forms


@pytest.mark.parametrize("rows", [2, 10])
def test_customer_page_with_tag_pickers_keeps_a_constant_query_count(
    db, client_a, django_assert_num_queries, rows
):
    login(client_a, "operator")
    with schema_context("alpha"):
        _, tags = make_group("会员", ["金卡", "银卡", "铜卡"])
        customer = CustomerFactory()
        for _index in range(rows):
            RelationFactory(customer=customer, wecom_tag_ids=[tags[0].tag_id, "etUNKNOWN"])

    # routing and session (5) + the customer, its relations, the timeline, the catalogue,
    # its transfers, its notes and follow-ups, its lifecycle stage
    with django_assert_num_queries(13):
        response = client_a.get(f"/customers/{customer.pk}/")

    body = body_of(response)
    assert body.count(">金卡<") == rows
    assert body.count('<select name="add"') == rows


# --- tenants ------------------------------------------------------------------------------


def test_another_tenant_cannot_see_or_edit_the_tags(db, client_a, client_b):
    with schema_context("alpha"):
        group, (gold,) = make_group("阿尔法会员", ["阿尔法金卡"])
        relation = RelationFactory(wecom_tag_ids=[gold.tag_id])
    login(client_b, "admin", schema="beta")

    body = body_of(client_b.get("/tags/"))
    assert "阿尔法" not in body
    assert client_b.get(f"/tags/{gold.tag_id}/rename/").status_code == 404
    assert client_b.get(f"/tags/{gold.tag_id}/delete/").status_code == 404
    assert client_b.post(f"/tags/{gold.tag_id}/delete/").status_code == 404
    assert client_b.post(f"/tags/groups/{group.group_id}/rename/", {"name": "x"}).status_code == 404
    assert client_b.post(f"/tags/groups/{group.group_id}/add/", {"tags": "x"}).status_code == 404
    assert (
        client_b.post(f"/tags/relations/{relation.pk}/", {"remove": gold.tag_id}).status_code == 404
    )
    with schema_context("alpha"):
        assert Tag.objects.get(tag_id=gold.tag_id).name == "阿尔法金卡"
        relation.refresh_from_db()
        assert relation.wecom_tag_ids == [gold.tag_id]
