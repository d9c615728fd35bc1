"""Full sync against the WeCom sandbox: exact, idempotent, resumable, sweeping."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from contacts import sync
from contacts.models import CustomerEvent, GroupChat, Guide, Relation, Store, SyncRun
from contacts.tests.sync_compare import differences, sandbox_state
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox

CORP_ID = "wwsynctest000001"


def seed_corp(control) -> None:
    """Two stores, 30 guides, 400 customers (some followed twice), remarks, phones, tags,
    two group chats, one member outside customer contact."""
    north = control.add_department(CORP_ID, "北区门店", id=2)
    control.add_department(CORP_ID, "南区门店", id=3)
    assert north["id"] == 2
    control.seed(
        CORP_ID,
        members=30,
        departments=0,
        customers=400,
        follows_per_customer=1,
        random_seed=7,
        states=["poster", "", "parcel"],
    )
    control.add_member(
        CORP_ID, "clerk01", name="财务", department=[2], notify=False, customer_contact=False
    )
    control.add_member(CORP_ID, "star01", name="金牌导购", department=[3], notify=False)
    control.console_corp_tags(CORP_ID, "create", group_name="会员等级", tags=["金卡", "银卡"])
    tags = [t["id"] for g in control_tags(control) for t in g["tag"]]
    for index in range(15):
        control.add_customer(
            CORP_ID,
            external_userid=f"wmSYNCVIP{index:04d}",
            name=f"贵宾{index}",
            unionid=f"oUNION{index:04d}",
            follows=[
                {
                    "userid": "star01",
                    "remark": f"VIP{index}",
                    "description": "爱买口红",
                    "remark_mobiles": [f"1380000{index:04d}"],
                    "tag_ids": tags[:1],
                    "add_way": 2,
                },
                {"userid": "guide00001", "remark": "", "state": "poster"},
            ],
        )
    control.create_group_chat(
        CORP_ID,
        owner="star01",
        name="贵宾群",
        members=["guide00002"],
        external_userids=["wmSYNCVIP0000", "wmSYNCVIP0001"],
    )
    control.create_group_chat(CORP_ID, owner="guide00003", name="新品群", external_userids=[])


def control_tags(control):
    from scrm.wecom.client import wecom_client

    return wecom_client().post("externalcontact/get_corp_tag_list", data={})["tag_group"]


@pytest.fixture
def seeded(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    with schema_context("alpha"):
        seed_corp(wecom_sandbox.control)
    return wecom_sandbox.control


def run_sync() -> SyncRun:
    run = SyncRun.objects.create(trigger="test")
    assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE
    run.refresh_from_db()
    return run


def snapshot_of_rows():
    return (
        sorted(Relation.objects.values_list("id", "status", "remark", "updated_at", "added_at")),
        sorted(CustomerEvent.objects.values_list("id", "kind")),
        sorted(Guide.objects.values_list("id", "userid", "status", "store_id")),
        sorted(GroupChat.objects.values_list("id", "status", "member_count")),
    )


def test_full_sync_holds_exactly_what_wecom_holds(seeded):
    with schema_context("alpha"):
        # when
        run = run_sync()

        # then every guide, customer, relation and group chat matches the sandbox
        assert differences(sandbox_state(seeded, CORP_ID)) == {}
        assert run.status == SyncRun.Status.DONE
        assert run.in_flight is None
        assert run.stats["relations_new"] == 430
        assert Relation.objects.count() == 430
        assert Store.objects.filter(department_id__in=[2, 3]).count() == 2
        assert Guide.objects.get(userid="clerk01").customer_contact is False
        vip = Relation.objects.get(
            customer__external_userid="wmSYNCVIP0003", guide__userid="star01"
        )
        assert vip.remark_mobiles == ["13800000003"]
        assert vip.customer.unionid == "oUNION0003"
        # every new relation has its "added" entry on the customer's timeline
        assert CustomerEvent.objects.filter(kind="added").count() == 430
        chat = GroupChat.objects.get(name="贵宾群")
        assert chat.owner.userid == "star01"
        assert chat.customer_count == 2
        assert {m.customer.external_userid for m in chat.members.filter(kind=2)} == {
            "wmSYNCVIP0000",
            "wmSYNCVIP0001",
        }


def test_running_it_again_changes_nothing(seeded):
    with schema_context("alpha"):
        run_sync()
        before = snapshot_of_rows()

        second = run_sync()

        assert snapshot_of_rows() == before
        assert second.stats.get("relations_new", 0) == 0
        assert second.stats.get("customers_updated", 0) == 0
        assert second.stats.get("relations_vanished", 0) == 0


class Killed(BaseException):
    """Stands for the worker dying (SIGKILL): nothing after it runs, not even except Exception."""


def test_killed_half_way_then_resumed_finishes_with_the_same_result(seeded, monkeypatch):
    with schema_context("alpha"):
        # given a sync flushing every page, killed at its third flush
        monkeypatch.setattr(sync, "FLUSH_ROWS", 1)
        monkeypatch.setattr(sync, "GUIDES_PER_CALL", 5)
        real_flush, calls = sync._flush, []

        def dying_flush(run, pages, **position):
            calls.append(position)
            if len(calls) == 3:
                raise Killed
            real_flush(run, pages, **position)

        monkeypatch.setattr(sync, "_flush", dying_flush)
        run = SyncRun.objects.create(trigger="test")
        with pytest.raises(Killed):
            sync.sync_run(sync_run_id=run.pk)
        run.refresh_from_db()
        assert run.status == SyncRun.Status.RUNNING
        assert run.phase == SyncRun.Phase.CONTACTS
        assert 0 < Relation.objects.count() < 430
        checkpoint = (run.batch_index, run.cursor)

        # a killed worker never released its lease: nobody else runs it until it runs out
        SyncRun.objects.filter(pk=run.pk).update(lease_until=timezone.now() + sync.LEASE)
        assert sync.sync_run(sync_run_id=run.pk) == "skipped"
        assert sync.sync_resume_stale() == 0
        SyncRun.objects.filter(pk=run.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        assert sync.sync_resume_stale() == 1

        # when another worker resumes the run
        monkeypatch.setattr(sync, "_flush", real_flush)
        assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE

        # then it went on from the checkpoint and the result is exact
        assert checkpoint == (calls[1]["batch_index"], calls[1]["cursor"])
        assert differences(sandbox_state(seeded, CORP_ID)) == {}
        assert CustomerEvent.objects.filter(kind="added").count() == 430
        run.refresh_from_db()
        assert run.status == SyncRun.Status.DONE


def test_a_held_lease_keeps_a_second_worker_out(seeded):
    with schema_context("alpha"):
        run = SyncRun.objects.create(trigger="test")
        sync.sync_claim(sync_run_id=run.pk)

        assert sync.sync_run(sync_run_id=run.pk) == "skipped"


def test_relation_deleted_in_wecom_between_syncs_is_marked_gone(seeded):
    with schema_context("alpha"):
        run_sync()
        # WeCom loses a relation without our receiving the callback
        seeded.member_deletes_customer(CORP_ID, "star01", "wmSYNCVIP0004")

        run = run_sync()

        relation = Relation.objects.get(
            customer__external_userid="wmSYNCVIP0004", guide__userid="star01"
        )
        assert relation.status == Relation.Status.VANISHED
        assert relation.deleted_at is not None
        assert run.stats["relations_vanished"] == 1
        assert (
            CustomerEvent.objects.filter(kind="vanished", customer=relation.customer).count() == 1
        )
        # the customer's other relation is untouched
        assert (
            Relation.objects.get(
                customer__external_userid="wmSYNCVIP0004", guide__userid="guide00001"
            ).status
            == Relation.Status.ACTIVE
        )
        assert differences(sandbox_state(seeded, CORP_ID)) == {}


def test_a_departed_member_becomes_a_departed_guide_and_keeps_relations(seeded):
    with schema_context("alpha"):
        run_sync()
        seeded.member_leaves(CORP_ID, "star01")

        run_sync()

        star = Guide.objects.get(userid="star01")
        assert star.status == Guide.Status.DEPARTED
        assert star.departed_at is not None
        # WeCom keeps a departed member's customers until they are handed over
        assert star.relations.filter(status=Relation.Status.ACTIVE).count() == 15


def test_one_sync_at_a_time(seeded):
    from contacts.services import SyncAlreadyRunning, sync_start

    with schema_context("alpha"):
        sync_start(trigger="test")
        with pytest.raises(SyncAlreadyRunning), transaction.atomic():
            sync_start(trigger="test")
