"""Tags end to end: the sandbox's admin console and a member's app fire the real callbacks
to the live web server, the real worker handles them; a bulk job runs in the worker."""

import pytest
from django_tenants.utils import schema_context

from contacts import sync
from contacts.models import Relation, SyncRun
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging.bulk import bulk_job_from_segment
from tagging.models import BulkTagJob, Tag, TagChange, TagGroup
from tagging.segments import segment_save
from tests.polling import wait_until

CORP_ID = "wwtagse2etest001"
TOKEN = "sandboxToken"
AES_KEY = "A" * 43  # as connect_to_sandbox configures our side

pytestmark = pytest.mark.slow


def test_wecom_side_tag_edits_arrive_and_a_bulk_job_runs_in_the_worker(
    live_web, celery_worker, wecom_sandbox, tenant_a
):
    control = wecom_sandbox.control
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    control.set_callback(
        CORP_ID,
        "customer_contact",
        f"{live_web}/wecom/callback/{CORP_ID}/customer_contact/",
        token=TOKEN,
        encoding_aes_key=AES_KEY,
    )
    control.add_member(CORP_ID, "amy", name="Amy", notify=False)
    for n in range(5):
        control.add_customer(CORP_ID, external_userid=f"wmE2ET{n:03d}", follows=[{"userid": "amy"}])
    with schema_context("alpha"):
        run = SyncRun.objects.create(trigger="test")
        assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE

    def catalogue() -> dict[str, list[str]]:
        with schema_context("alpha"):
            return {
                g.name: [t.name for t in g.tags.order_by("-order", "id")]
                for g in TagGroup.objects.all()
            }

    # an admin creates a group in WeCom's admin console
    created = control.console_corp_tags(CORP_ID, "create", group_name="等级", tags=["金", "银"])
    gold, silver = created["tag_ids"]
    wait_until(lambda: sorted(catalogue().get("等级", [])) == ["金", "银"], timeout=30)

    # reorders it (shuffle): silver first
    control.console_corp_tags(
        CORP_ID, "shuffle", group_id=created["group_id"], tag_ids=[silver, gold]
    )
    wait_until(lambda: catalogue()["等级"] == ["银", "金"], timeout=30)

    # a guide tags a customer in the WeCom app
    control.edit_relation(CORP_ID, userid="amy", external_userid="wmE2ET000", add_tag=[gold])

    def tags_of(external_userid: str) -> list[str]:
        with schema_context("alpha"):
            return list(
                Relation.objects.get(customer__external_userid=external_userid).wecom_tag_ids
            )

    wait_until(lambda: tags_of("wmE2ET000") == [gold], timeout=30)

    # the admin deletes that tag: it leaves the catalogue and the customer
    control.console_corp_tags(CORP_ID, "delete", tag_id=[gold])
    wait_until(lambda: tags_of("wmE2ET000") == [], timeout=30)
    with schema_context("alpha"):
        assert not Tag.objects.filter(tag_id=gold).exists()
        kinds = set(TagChange.objects.values_list("kind", flat=True))
        assert {"created", "reordered", "deleted"} <= kinds

        # an operator tags everyone with silver: the worker runs the job
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )
        from django.db import transaction

        with transaction.atomic():
            job = bulk_job_from_segment(segment=segment, action="add", tag_ids=[silver], actor=None)

    def finished() -> bool:
        with schema_context("alpha"):
            job.refresh_from_db()
            return job.status == BulkTagJob.Status.FINISHED

    wait_until(finished, timeout=60)
    for n in range(5):
        [follow] = control.customer(CORP_ID, f"wmE2ET{n:03d}")["follows"]
        assert [t["tag_id"] for t in follow["tags"]] == [silver]
