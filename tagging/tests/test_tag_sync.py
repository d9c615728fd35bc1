"""Two-way sync of the tag catalogue with the WeCom sandbox."""

import pytest
from django_tenants.utils import schema_context

from contacts.tests.factories import RelationFactory
from scrm.wecom.errors import WeComError
from scrm.wecom.events.services import callback_event_process, callback_event_store
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging.models import Tag, TagChange, TagGroup
from tagging.services import TagInputError, tag_delete, tag_rename, tags_add, tags_pull

CORP_ID = "wwtagsynctest001"


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    return wecom_sandbox.control


def wecom_catalogue() -> dict[str, tuple[str, list[str]]]:
    from scrm.wecom.client import wecom_client

    groups = wecom_client().post("externalcontact/get_corp_tag_list", data={})["tag_group"]
    return {g["group_id"]: (g["group_name"], sorted(t["name"] for t in g["tag"])) for g in groups}


def our_catalogue() -> dict[str, tuple[str, list[str]]]:
    return {
        g.group_id: (g.name, sorted(g.tags.values_list("name", flat=True)))
        for g in TagGroup.objects.all()
    }


def deliver_tag_event(corp, **fields):
    event = callback_event_store(
        app_kind="customer_contact",
        fields={
            "MsgType": "event",
            "Event": "change_external_tag",
            "CreateTime": str(corp.now()),
            **fields,
        },
        raw_xml="<xml/>",
        tenant_schema="alpha",
    )
    assert event is not None
    assert callback_event_process(event_id=event.pk) == "done"


def test_tags_made_in_wecom_arrive_with_the_callback(corp):
    created = corp.console_corp_tags(
        CORP_ID, "create", group_name="会员等级", tags=["金卡", "银卡"]
    )
    with schema_context("alpha"):
        deliver_tag_event(corp, Id=created["group_id"], TagType="tag_group", ChangeType="create")

        assert our_catalogue() == wecom_catalogue()
        assert our_catalogue()[created["group_id"]] == ("会员等级", ["金卡", "银卡"])
        kinds = sorted(TagChange.objects.values_list("kind", "source", "is_group"))
        assert kinds == [
            ("created", "wecom", False),
            ("created", "wecom", False),
            ("created", "wecom", True),
        ]


def test_rename_and_delete_in_wecom_win_and_untag_customers(corp):
    created = corp.console_corp_tags(CORP_ID, "create", group_name="偏好", tags=["口红", "香水"])
    lipstick, perfume = created["tag_ids"]
    with schema_context("alpha"):
        tags_pull()
        relation = RelationFactory(wecom_tag_ids=sorted([lipstick, perfume]))

        corp.console_corp_tags(CORP_ID, "update", id=lipstick, name="唇妆")
        deliver_tag_event(corp, Id=lipstick, TagType="tag", ChangeType="update")
        corp.console_corp_tags(CORP_ID, "delete", tag_id=[perfume])
        deliver_tag_event(corp, Id=perfume, TagType="tag", ChangeType="delete")

        assert our_catalogue() == wecom_catalogue()
        assert Tag.objects.get(tag_id=lipstick).name == "唇妆"
        renamed = TagChange.objects.get(kind="renamed")
        assert (renamed.before, renamed.name, renamed.source) == ("口红", "唇妆", "wecom")
        relation.refresh_from_db()
        assert relation.wecom_tag_ids == [lipstick]


def test_a_shuffle_in_wecom_reorders_ours(corp):
    created = corp.console_corp_tags(CORP_ID, "create", group_name="尺码", tags=["S", "M", "L"])
    small, medium, large = created["tag_ids"]
    with schema_context("alpha"):
        tags_pull()
        corp.console_corp_tags(
            CORP_ID, "shuffle", group_id=created["group_id"], tag_ids=[large, medium, small]
        )
        deliver_tag_event(corp, Id=created["group_id"], TagType="tag_group", ChangeType="shuffle")

        ordered = Tag.objects.order_by("-order", "id").values_list("name", flat=True)
        assert list(ordered) == ["L", "M", "S"]
        assert TagChange.objects.filter(kind="reordered", source="wecom").count() >= 2


def test_a_conflicting_rename_resolves_to_wecom(corp):
    created = corp.console_corp_tags(CORP_ID, "create", group_name="渠道", tags=["门店"])
    tag_id = created["tag_ids"][0]
    with schema_context("alpha"):
        tags_pull()
        # renamed in WeCom while we were not told (the callback was lost)...
        corp.console_corp_tags(CORP_ID, "update", id=tag_id, name="线下门店")
        Tag.objects.filter(tag_id=tag_id).update(name="本地改名")

        # ...the next pull settles it on WeCom's name, and says so
        tags_pull()

        assert Tag.objects.get(tag_id=tag_id).name == "线下门店"
        change = TagChange.objects.get(kind="renamed")
        assert (change.before, change.name) == ("本地改名", "线下门店")


def test_console_edits_go_to_wecom_first_with_wecom_ids(corp):
    with schema_context("alpha"):
        gold, silver = tags_add(group_name="会员", names=["金卡", "银卡"], actor=None)
        group = gold.group
        [platinum] = tags_add(group=group, names=["白金卡"], actor=None)
        tag_rename(item=silver, name="银卡会员", actor=None)
        tag_delete(item=gold, actor=None)

        assert our_catalogue() == wecom_catalogue()
        assert our_catalogue()[group.group_id] == ("会员", ["白金卡", "银卡会员"])
        assert platinum.tag_id.startswith("et")
        assert set(TagChange.objects.values_list("source", flat=True)) == {"console"}
        # a pull afterwards finds nothing to change: our pushes were recorded already
        assert tags_pull().changes == []


def test_deleting_a_groups_last_tag_deletes_the_group_as_wecom_does(corp):
    with schema_context("alpha"):
        [only] = tags_add(group_name="临时", names=["试用"], actor=None)
        tag_delete(item=only, actor=None)

        assert our_catalogue() == wecom_catalogue() == {}
        deleted = set(TagChange.objects.filter(kind="deleted").values_list("is_group", "name"))
        assert deleted == {(False, "试用"), (True, "临时")}
        assert tags_pull().changes == []


def test_bad_names_are_refused_before_anything_is_sent(corp):
    with schema_context("alpha"):
        with pytest.raises(TagInputError, match="30"):
            tags_add(group_name="会员", names=["长" * 31], actor=None)
        with pytest.raises(TagInputError, match="empty"):
            tags_add(group_name="会员", names=["  "], actor=None)
        [gold] = tags_add(group_name="会员", names=["金卡"], actor=None)
        with pytest.raises(TagInputError, match="金卡"):
            tags_add(group=gold.group, names=["金卡"], actor=None)

        assert wecom_catalogue() == our_catalogue()


def test_a_wecom_refusal_saves_nothing(corp):
    corp.set_faults({"externalcontact/add_corp_tag": {"error_rate": 1.0, "errcode": 40058}})
    try:
        with schema_context("alpha"):
            with pytest.raises(WeComError) as refused:
                tags_add(group_name="会员", names=["金卡"], actor=None)
            assert refused.value.errcode == 40058
            assert not TagGroup.objects.exists()
            assert not TagChange.objects.exists()
    finally:
        corp.clear_faults()


def test_the_hourly_pull_catches_a_lost_callback(corp):
    from tagging.tasks import tags_pull_task

    corp.console_corp_tags(CORP_ID, "create", group_name="节日", tags=["双十一"])

    assert tags_pull_task.run(tenant_schema="alpha") == 2  # the group and its tag
    with schema_context("alpha"):
        assert our_catalogue() == wecom_catalogue()
