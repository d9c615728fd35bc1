"""An erased customer who is still a WeCom contact of a guide does not come back: the full
sync, the group chat refresh and WeCom's callbacks skip them (the sandbox still has them).
Only a new add by the customer, after the erasure, brings them back as a new customer."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from contacts import sync
from contacts.models import Customer, GroupChatMember, Relation, SyncRun
from handover.tests.helpers import CORP_ID, last_callback_id, replay_callbacks, setup_corp
from privacy.erased import is_erased
from privacy.models import ErasedContact
from privacy.services import customer_erase
from scrm.wecom.client import wecom_client

ERASED = "wmH0000"


@pytest.fixture
def erased(db, wecom_sandbox, tenant_a):
    """amy's customer wmH0000 (客户0, in amy's group chat) erased a minute ago; WeCom (the
    sandbox) still has them as amy's contact."""
    setup_corp(wecom_sandbox, tenant_a, customers=3)
    with schema_context("alpha"):
        customer = Customer.objects.get(external_userid=ERASED)
        assert GroupChatMember.objects.filter(customer=customer).exists()
        customer_erase(customer=customer, actor=None)
        ErasedContact.objects.update(erased_at=timezone.now() - timedelta(minutes=1))
        customer.refresh_from_db()
        yield customer


def run_sync() -> None:
    run = SyncRun.objects.create(trigger="test")
    assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE


def test_a_full_sync_does_not_bring_them_back(erased, wecom_sandbox):
    with schema_context("alpha"):
        run_sync()

        assert not Customer.objects.filter(external_userid=ERASED).exists()
        assert not Customer.objects.filter(name="客户0").exists()
        erased.refresh_from_db()
        assert erased.name == ""
        assert not Relation.objects.filter(remark="老客0").exists()
        # the group chat was refreshed: its other members are there, the erased one is not
        members = set(GroupChatMember.objects.filter(kind=2).values_list("userid", flat=True))
        assert members == {"wmH0001"}
        # and the customers the sync brought are all the others
        assert Customer.objects.filter(external_userid__in=["wmH0001", "wmH0002"]).count() == 2


def test_callbacks_about_them_change_nothing(erased, wecom_sandbox):
    control = wecom_sandbox.control
    since = last_callback_id(control)
    control.edit_relation(CORP_ID, "amy", ERASED, remark="张三 13812345678")
    control.customer_deletes_member(CORP_ID, ERASED, "amy")

    kinds = replay_callbacks(control, since)

    assert kinds == ["edit_external_contact", "del_follow_user"]
    with schema_context("alpha"):
        assert not Customer.objects.filter(external_userid=ERASED).exists()
        assert Customer.objects.count() == 5  # 3 of amy's (one erased), 2 of bob's
        assert not Relation.objects.filter(remark__contains="张三").exists()
        # the anonymised relation keeps its status: the platform no longer knows who it is
        assert erased.relations.get().status == Relation.Status.ACTIVE


def test_a_new_add_by_the_customer_brings_them_back_as_a_new_customer(erased, wecom_sandbox):
    control = wecom_sandbox.control
    with schema_context("alpha"):
        way = wecom_client().post(
            "externalcontact/add_contact_way", data={"type": 1, "scene": 2, "user": ["bob"]}
        )["config_id"]
    since = last_callback_id(control)
    control.scan(CORP_ID, way, external_userid=ERASED, userid="bob")

    replay_callbacks(control, since)

    with schema_context("alpha"):
        back = Customer.objects.get(external_userid=ERASED)
        assert back.pk != erased.pk
        assert back.name == "客户0"
        assert set(back.relations.values_list("guide__userid", flat=True)) == {"amy", "bob"}
        assert not is_erased(ERASED)
        erased.refresh_from_db()
        assert erased.external_userid.startswith("erased_")  # the old row stays anonymous
