"""The contact book end to end: real worker, live web server, sandbox calling back."""

import pytest
from django_tenants.utils import schema_context

from contacts.models import Guide, Relation, Store, SyncRun
from contacts.services import sync_start
from contacts.tests.sync_compare import differences, sandbox_state
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tests.polling import wait_until

CORP_ID = "wwcontactse2e001"
TOKEN = "sandboxToken"
AES_KEY = "A" * 43

pytestmark = pytest.mark.slow


def test_sync_from_the_worker_then_a_deletion_alert_reaches_the_manager(
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
    control.add_department(CORP_ID, "徐汇店", id=2)
    control.add_member(CORP_ID, "manager01", name="店长", department=[2], notify=False)
    control.seed(CORP_ID, members=12, customers=150, departments=0, random_seed=3)
    control.add_member(CORP_ID, "amy", name="Amy", department=[2], notify=False)
    control.add_customer(
        CORP_ID, external_userid="wmE2E0001", name="孙女士", follows=[{"userid": "amy"}]
    )

    # when an operator starts a sync, the worker runs it to the end
    with schema_context("alpha"):
        run = sync_start(trigger="console")

    def finished():
        with schema_context("alpha"):
            run.refresh_from_db()
            return run.status in (SyncRun.Status.DONE, SyncRun.Status.FAILED)

    wait_until(finished, timeout=60)
    with schema_context("alpha"):
        assert run.status == SyncRun.Status.DONE, run.error
        assert differences(sandbox_state(control, CORP_ID)) == {}
        store = Store.objects.get(department_id=2)
        store.managers.add(Guide.objects.get(userid="manager01"))

    # and when the customer deletes Amy in WeCom, the callback updates the relation and the
    # store manager is told in WeCom
    control.customer_deletes_member(CORP_ID, "wmE2E0001", "amy")

    def deleted():
        with schema_context("alpha"):
            return Relation.objects.filter(
                guide__userid="amy", status=Relation.Status.DELETED_BY_CUSTOMER
            ).exists()

    wait_until(deleted, timeout=30)
    messages = wait_until(lambda: control.member_messages(CORP_ID, "manager01"), timeout=30)
    text = messages[0]["content"]["content"]
    assert "孙女士" in text
    assert "删除" in text
