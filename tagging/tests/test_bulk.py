"""Bulk tagging jobs against the WeCom sandbox: segment and CSV sources, kill and resume,
per-row results and the report."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from contacts import sync
from contacts.models import CustomerEvent, Relation, SyncRun
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging import bulk
from tagging.bulk import (
    BulkInputError,
    bulk_job_cancel,
    bulk_job_from_csv,
    bulk_job_from_segment,
    bulk_job_progress,
    bulk_job_report,
    bulk_job_resume_stale,
    bulk_job_run,
)
from tagging.models import BulkTagJob, BulkTagRow
from tagging.segments import segment_save
from tagging.services import tags_add

CORP_ID = "wwbulktagtest001"


class Killed(BaseException):
    """Stands for the worker dying (SIGKILL): nothing after it runs."""


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    """Two guides; 12 customers of amy, 3 of them also bob's; phones noted on some."""
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    control = wecom_sandbox.control
    for userid in ("amy", "bob"):
        control.add_member(CORP_ID, userid, name=userid.title(), notify=False)
    for n in range(12):
        follows = [{"userid": "amy", "remark_mobiles": [f"1390000{n:04d}"] if n < 4 else []}]
        if n % 4 == 0:
            follows.append({"userid": "bob"})
        control.add_customer(CORP_ID, external_userid=f"wmBULK{n:04d}", follows=follows)
    with schema_context("alpha"):
        run = SyncRun.objects.create(trigger="test")
        assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE
        assert Relation.objects.count() == 15
        yield control


def wecom_tags(control, external_userid: str) -> dict[str, list[str]]:
    follows = control.customer(CORP_ID, external_userid)["follows"]
    return {f["userid"]: sorted(t["tag_id"] for t in f["tags"]) for f in follows}


def everyone(name: str = "全部客户"):
    return segment_save(segment=None, actor=None, name=name, definition={"op": "and", "rules": []})


def test_a_job_killed_half_way_and_resumed_tags_every_row_once(corp, monkeypatch):
    with schema_context("alpha"):
        [vip] = tags_add(group_name="会员", names=["VIP"], actor=None)
        job = bulk_job_from_segment(
            segment=everyone(), action="add", tag_ids=[vip.tag_id], actor=None
        )
        assert job.total == 15

        # killed after WeCom accepted the 7th row, before the row was saved
        real_save, saves = bulk.relation_tags_save, []

        def dying_save(**kwargs):
            saves.append(kwargs["relation_id"])
            if len(saves) == 7:
                raise Killed
            return real_save(**kwargs)

        monkeypatch.setattr(bulk, "relation_tags_save", dying_save)
        with pytest.raises(Killed):
            bulk_job_run(bulk_tag_job_id=job.pk)
        assert bulk_job_progress(job)["done"] == 6
        job.refresh_from_db()
        assert job.status == BulkTagJob.Status.RUNNING

        # the dead worker's lease keeps others out until it runs out
        BulkTagJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() + bulk.LEASE)
        with pytest.raises(bulk.BulkNotClaimed):
            bulk_job_run(bulk_tag_job_id=job.pk)
        assert bulk_job_resume_stale() == 0
        BulkTagJob.objects.filter(pk=job.pk).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
        assert bulk_job_resume_stale() == 1

        monkeypatch.setattr(bulk, "relation_tags_save", real_save)
        assert bulk_job_run(bulk_tag_job_id=job.pk) == BulkTagJob.Status.FINISHED

        progress = bulk_job_progress(job)
        assert progress == {**progress, "done": 15, "pending": 0, "failed": 0, "total": 15}
        assert BulkTagRow.objects.filter(job=job).values("relation_id").distinct().count() == 15
        for n in range(12):
            expected = {"amy": [vip.tag_id]} | ({"bob": [vip.tag_id]} if n % 4 == 0 else {})
            assert wecom_tags(corp, f"wmBULK{n:04d}") == expected
        tags = Relation.objects.values_list("wecom_tag_ids", flat=True)
        assert all(t == [vip.tag_id] for t in tags)
        # one timeline entry per relation, the killed row's included
        tagged = CustomerEvent.objects.filter(kind="tagged")
        assert tagged.count() == 15
        assert tagged.values("customer_id", "guide_id").distinct().count() == 15


def test_a_second_run_changes_nothing_and_untag_takes_tags_off(corp):
    with schema_context("alpha"):
        [vip] = tags_add(group_name="会员", names=["VIP"], actor=None)
        segment = everyone()
        first = bulk_job_from_segment(
            segment=segment, action="add", tag_ids=[vip.tag_id], actor=None
        )
        bulk_job_run(bulk_tag_job_id=first.pk)

        again = bulk_job_from_segment(
            segment=segment, action="add", tag_ids=[vip.tag_id], actor=None
        )
        bulk_job_run(bulk_tag_job_id=again.pk)
        assert bulk_job_progress(again)["unchanged"] == 15

        off = bulk_job_from_segment(
            segment=segment, action="remove", tag_ids=[vip.tag_id], actor=None
        )
        bulk_job_run(bulk_tag_job_id=off.pk)
        assert bulk_job_progress(off)["done"] == 15
        assert wecom_tags(corp, "wmBULK0000") == {"amy": [], "bob": []}


def test_a_wecom_refusal_fails_the_row_with_its_reason_and_the_rest_go_on(corp):
    with schema_context("alpha"):
        [vip] = tags_add(group_name="会员", names=["VIP"], actor=None)
        # WeCom lost bob's relation with wmBULK0004 (no callback reached us)
        corp.member_deletes_customer(CORP_ID, "bob", "wmBULK0004")
        job = bulk_job_from_segment(
            segment=everyone(), action="add", tag_ids=[vip.tag_id], actor=None
        )
        bulk_job_run(bulk_tag_job_id=job.pk)

        failed = BulkTagRow.objects.get(job=job, status="failed")
        assert failed.relation.guide.userid == "bob"
        assert failed.errcode is not None
        assert failed.error
        assert bulk_job_progress(job)["done"] == 14
        report = list(bulk_job_report(job))
        assert report[0][:5] == ["line", "value", "external_userid", "guide", "result"]
        assert ["wmBULK0004", "bob", "failed"] in [row[2:5] for row in report]


def test_csv_rows_by_id_and_phone_with_invalid_rows_listed(corp):
    with schema_context("alpha"):
        [vip] = tags_add(group_name="会员", names=["VIP"], actor=None)
        data = "\n".join(
            [
                "external_userid,备注",
                "wmBULK0001,ok",  # line 2: amy
                "139-0000-0000,phone",  # line 3: phone of wmBULK0000 -> amy and bob
                "wmBULK0001,again",  # line 4: duplicate
                "hello,bad",  # line 5
                "wmNOBODY0001,unknown",  # line 6
                "13700000000,unknown phone",  # line 7
                ",",  # blank: skipped
                "wmBULK0002",  # line 9
                "+86 139 0000 0003",  # line 10: noted as 13900000003 -> amy
            ]
        ).encode("gb18030")
        job = bulk_job_from_csv(
            data=data, file_name="客户.csv", action="add", tag_ids=[vip.tag_id], actor=None
        )
        bulk_job_run(bulk_tag_job_id=job.pk)

        rows = {
            (r.line, r.status, r.error)
            for r in BulkTagRow.objects.filter(job=job).exclude(status="done")
        }
        assert rows == {
            (4, "invalid", "same as line 2"),
            (5, "invalid", "neither an external_userid (wm…/wo…) nor a phone number"),
            (6, "invalid", "no customer with this external_userid"),
            (7, "invalid", "no guide noted this phone number"),
        }
        done = BulkTagRow.objects.filter(job=job, status="done")
        assert sorted(done.values_list("line", flat=True)) == [2, 3, 3, 9, 10]
        assert wecom_tags(corp, "wmBULK0000") == {"amy": [vip.tag_id], "bob": [vip.tag_id]}
        assert wecom_tags(corp, "wmBULK0002") == {"amy": [vip.tag_id]}
        assert wecom_tags(corp, "wmBULK0003") == {"amy": [vip.tag_id]}  # other spelling
        assert wecom_tags(corp, "wmBULK0005") == {"amy": []}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no rows"),
        (b"\xff\xfe\x00\x00garbage\x81", "neither UTF-8 nor GBK"),
        (b"x" * (bulk.MAX_CSV_BYTES + 1), "larger than"),
    ],
)
def test_unusable_files_are_refused_and_nothing_is_saved(corp, data, message):
    with schema_context("alpha"):
        [vip] = tags_add(group_name="会员", names=["VIP"], actor=None)
        with pytest.raises(BulkInputError, match=message):
            bulk_job_from_csv(
                data=data, file_name="x.csv", action="add", tag_ids=[vip.tag_id], actor=None
            )
        assert not BulkTagJob.objects.exists()


def test_unknown_tags_are_refused_before_planning(corp):
    with schema_context("alpha"):
        with pytest.raises(BulkInputError, match="unknown tags: et_nope"):
            bulk_job_from_segment(segment=everyone(), action="add", tag_ids=["et_nope"], actor=None)
        assert not BulkTagJob.objects.exists()


def test_a_cancelled_job_stops_and_reports_rows_not_reached(corp):
    with schema_context("alpha"):
        [vip] = tags_add(group_name="会员", names=["VIP"], actor=None)
        job = bulk_job_from_segment(
            segment=everyone(), action="add", tag_ids=[vip.tag_id], actor=None
        )
        assert bulk_job_run(bulk_tag_job_id=job.pk, max_rows=5) == BulkTagJob.Status.RUNNING
        assert bulk_job_cancel(job=job, actor=None)
        with pytest.raises(bulk.BulkNotClaimed):
            bulk_job_run(bulk_tag_job_id=job.pk)
        progress = bulk_job_progress(job)
        assert (progress["done"], progress["pending"]) == (5, 10)
