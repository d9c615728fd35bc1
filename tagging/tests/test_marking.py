"""Marking and unmarking tags on a relation, pushed to the WeCom sandbox."""

import pytest
from django_tenants.utils import schema_context

from contacts.models import CustomerEvent
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory
from scrm.wecom.errors import WeComError
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging.services import TagInputError, relation_tags_change, tags_add

CORP_ID = "wwtagmarktest001"


@pytest.fixture
def relation(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    control = wecom_sandbox.control
    control.add_member(CORP_ID, "amy", name="Amy", notify=False)
    control.add_customer(CORP_ID, external_userid="wmMARK0001", follows=[{"userid": "amy"}])
    with schema_context("alpha"):
        yield RelationFactory(
            guide=GuideFactory(userid="amy"),
            customer=CustomerFactory(external_userid="wmMARK0001"),
        )


def wecom_tags(control) -> list[str]:
    [follow] = control.customer(CORP_ID, "wmMARK0001")["follows"]
    return sorted(t["tag_id"] for t in follow["tags"])


def test_mark_and_unmark_reach_wecom_and_the_timeline(relation, wecom_sandbox):
    gold, vip = tags_add(group_name="会员", names=["金卡", "VIP"], actor=None)

    tags = relation_tags_change(relation=relation, add=[gold.tag_id, vip.tag_id], actor=None)
    assert tags == sorted([gold.tag_id, vip.tag_id])
    assert wecom_tags(wecom_sandbox.control) == tags

    tags = relation_tags_change(relation=relation, remove=[gold.tag_id], actor=None)
    assert tags == [vip.tag_id]
    assert wecom_tags(wecom_sandbox.control) == [vip.tag_id]
    relation.refresh_from_db()
    assert relation.wecom_tag_ids == [vip.tag_id]
    entries = list(CustomerEvent.objects.filter(kind="tagged").order_by("id").values_list("data"))
    assert [e[0]["added"] for e in entries] == [sorted([gold.tag_id, vip.tag_id]), []]
    assert [e[0]["removed"] for e in entries] == [[], [gold.tag_id]]


def test_unknown_tag_is_refused_before_wecom(relation, wecom_sandbox):
    with pytest.raises(TagInputError, match="etNOPE"):
        relation_tags_change(relation=relation, add=["etNOPE"], actor=None)
    assert wecom_tags(wecom_sandbox.control) == []


def test_a_wecom_error_on_mark_surfaces_and_saves_nothing(relation, wecom_sandbox):
    [gold] = tags_add(group_name="会员", names=["金卡"], actor=None)
    wecom_sandbox.control.set_faults(
        {"externalcontact/mark_tag": {"error_rate": 1.0, "errcode": 84061}}
    )
    try:
        with pytest.raises(WeComError) as refused:
            relation_tags_change(relation=relation, add=[gold.tag_id], actor=None)
    finally:
        wecom_sandbox.control.clear_faults()

    assert refused.value.errcode == 84061
    assert "外部联系人" in refused.value.meaning or "external" in refused.value.meaning.lower()
    relation.refresh_from_db()
    assert relation.wecom_tag_ids == []
    assert not CustomerEvent.objects.filter(kind="tagged").exists()
