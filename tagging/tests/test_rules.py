"""Auto-tag rules: on a new relation (callback), by time, and retroactively as a job."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import schema_context

from channels_qr.models import Channel, LiveCode
from contacts import sync
from contacts.models import CustomerEvent, Relation, SyncRun
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory, StoreFactory
from scrm.wecom.events.services import callback_event_process, callback_event_store
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging.bulk import bulk_job_from_rule, bulk_job_progress, bulk_job_run
from tagging.models import AutoTagRule, Tag, TagGroup
from tagging.rules import rule_relations_q, rule_save
from tagging.services import TagInputError, tags_add

CORP_ID = "wwautotagtest001"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    control = wecom_sandbox.control
    control.add_department(CORP_ID, "南京路店", id=2)
    control.add_member(CORP_ID, "amy", name="Amy", department=[2], notify=False)
    control.add_member(CORP_ID, "bob", name="Bob", notify=False)
    with schema_context("alpha"):
        yield control


def deliver_add(control, userid: str, external_userid: str) -> None:
    stored = callback_event_store(
        app_kind="customer_contact",
        fields={
            "ToUserName": CORP_ID,
            "FromUserName": "sys",
            "MsgType": "event",
            "Event": "change_external_contact",
            "ChangeType": "add_external_contact",
            "CreateTime": str(control.now()),
            "UserID": userid,
            "ExternalUserID": external_userid,
        },
        raw_xml="<xml/>",
        tenant_schema="alpha",
    )
    assert stored is not None
    assert callback_event_process(event_id=stored.pk) == "done"


def wecom_tags(control, external_userid: str, userid: str) -> list[str]:
    follows = control.customer(CORP_ID, external_userid)["follows"]
    [follow] = [f for f in follows if f["userid"] == userid]
    return sorted(t["tag_id"] for t in follow["tags"])


def test_a_customer_from_the_channel_is_tagged_on_add(corp):
    poster = Channel.objects.create(name="门店海报")
    LiveCode.objects.create(channel=poster, state="poster01")
    vip, parcel = tags_add(group_name="来源", names=["海报", "包裹卡"], actor=None)
    rule_save(rule=None, actor=None, name="海报客户", tag_ids=[vip.tag_id], channel_ids=[poster.pk])
    rule_save(rule=None, actor=None, name="搜手机号", tag_ids=[parcel.tag_id], add_ways=[3])

    corp.add_customer(
        CORP_ID, external_userid="wmRULE0001", follows=[{"userid": "amy", "state": "poster01"}]
    )
    deliver_add(corp, "amy", "wmRULE0001")

    assert wecom_tags(corp, "wmRULE0001", "amy") == [vip.tag_id]
    relation = Relation.objects.get(customer__external_userid="wmRULE0001")
    assert relation.wecom_tag_ids == [vip.tag_id]
    event = CustomerEvent.objects.get(kind="tagged", customer=relation.customer)
    assert event.data["by"] == "rule: 海报客户"


def test_rules_that_do_not_match_and_inactive_rules_tag_nothing(corp):
    [tag] = tags_add(group_name="门店", names=["南京路"], actor=None)
    other_store = StoreFactory()
    rule_save(
        rule=None, actor=None, name="别的店", tag_ids=[tag.tag_id], store_ids=[other_store.pk]
    )
    rule_save(rule=None, actor=None, name="停用", tag_ids=[tag.tag_id], is_active=False)

    corp.add_customer(CORP_ID, external_userid="wmRULE0003", follows=[{"userid": "bob"}])
    deliver_add(corp, "bob", "wmRULE0003")

    assert wecom_tags(corp, "wmRULE0003", "bob") == []
    assert not CustomerEvent.objects.filter(kind="tagged").exists()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.django_db
def test_time_conditions_read_the_tenant_clock(tenant_a):
    with schema_context("alpha"):
        guide = GuideFactory(store=StoreFactory())
        times = {
            "sat_23": at(21, 23, 30),  # Saturday 23:30 local
            "sun_05": at(22, 5, 59),  # Sunday 05:59
            "sun_06": at(22, 6, 0),  # Sunday 06:00 (window ends)
            "mon_23": at(23, 23, 0),  # Monday
            "fri_12": at(20, 12, 0),
        }
        relations = {
            name: RelationFactory(guide=guide, customer=CustomerFactory(), added_at=when)
            for name, when in times.items()
        }
        group = TagGroup.objects.create(group_id="g1", name="时段")
        Tag.objects.create(tag_id="et_night", group=group, name="夜猫子")
        rule = rule_save(
            rule=None,
            actor=None,
            name="周末深夜",
            tag_ids=["et_night"],
            weekdays=[6, 7],
            hour_from="22:00",
            hour_until="06:00",
        )
        assert rule.hour_from == time(22)

        matched = set(Relation.objects.filter(rule_relations_q(rule)).values_list("pk", flat=True))
        assert matched == {relations["sat_23"].pk, relations["sun_05"].pk}

        rule = rule_save(
            rule=rule,
            actor=None,
            name="双十一前",
            tag_ids=["et_night"],
            valid_from=at(20, 0),
            valid_until=at(22, 0),
        )
        matched = set(Relation.objects.filter(rule_relations_q(rule)).values_list("pk", flat=True))
        assert matched == {relations["sat_23"].pk, relations["fri_12"].pk}


def test_a_rule_applied_retroactively_tags_existing_customers(corp):
    for n in range(6):
        corp.add_customer(
            CORP_ID,
            external_userid=f"wmOLD{n:04d}",
            follows=[{"userid": "amy" if n % 2 else "bob", "state": "parcel" if n < 4 else ""}],
        )
    run = SyncRun.objects.create(trigger="test")
    assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE
    parcel = Channel.objects.create(name="包裹卡")
    LiveCode.objects.create(channel=parcel, state="parcel")
    [tag] = tags_add(group_name="来源", names=["包裹卡"], actor=None)
    rule = rule_save(
        rule=None, actor=None, name="包裹卡", tag_ids=[tag.tag_id], channel_ids=[parcel.pk]
    )

    job = bulk_job_from_rule(rule=rule, actor=None)
    bulk_job_run(bulk_tag_job_id=job.pk)

    assert bulk_job_progress(job)["done"] == 4
    for n in range(6):
        userid = "amy" if n % 2 else "bob"
        expected = [tag.tag_id] if n < 4 else []
        assert wecom_tags(corp, f"wmOLD{n:04d}", userid) == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "name"),
        ({"tag_ids": []}, "at least one tag"),
        ({"tag_ids": ["et_nope"]}, "unknown tags"),
        ({"weekdays": [0]}, "1 \\(Monday\\) to 7"),
        ({"hour_from": "22:00"}, "both daily hours"),
        ({"hour_from": "25:00", "hour_until": "01:00"}, "not a time"),
        ({"guide_ids": [987654]}, "unknown guides"),
        ({"valid_from": at(2, 0), "valid_until": at(1, 0)}, "start is after its end"),
    ],
)
@pytest.mark.django_db
def test_bad_rules_are_refused_with_the_reason(tenant_a, fields, message):
    with schema_context("alpha"):
        group = TagGroup.objects.create(group_id="g1", name="组")
        Tag.objects.create(tag_id="et_ok", group=group, name="可以")
        with pytest.raises(TagInputError, match=message):
            rule_save(rule=None, actor=None, **{"name": "规则", "tag_ids": ["et_ok"], **fields})
        assert not AutoTagRule.objects.exists()
