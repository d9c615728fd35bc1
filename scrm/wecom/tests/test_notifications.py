import time

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from scrm.tenant_tasks import enqueue
from scrm.wecom.client import wecom_client
from scrm.wecom.notifications import guide_notify
from scrm.wecom.ratelimit import RateLimiter
from scrm.wecom.tasks import guide_notify_task
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tests.polling import wait_until

CORP_ID = "wwnotify0000001"


def test_guide_notify_reports_refused_members(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    wecom_sandbox.control.add_member(CORP_ID, "guide01", name="导购一", notify=False)

    with schema_context("alpha"):
        result = guide_notify(userids=["guide01", "nobody"], text="您有 3 位新客户")

    assert result.sent == ["guide01"]
    assert result.invalid == ["nobody"]
    [message] = wecom_sandbox.control.member_messages(CORP_ID, "guide01")
    assert "3 位新客户" in str(message)


def test_empty_text_is_refused(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    with schema_context("alpha"), pytest.raises(ValueError, match="empty"):
        guide_notify(userids=["guide01"], text="  ", client=wecom_client())


@pytest.mark.slow
def test_throttled_task_is_rescheduled_not_dropped(
    committed_db, celery_worker, wecom_sandbox, tenant_a
):
    # given message/send allows 2 bulk calls per 3 s, and both slots are taken
    connect_to_sandbox(
        wecom_sandbox,
        tenant_a,
        CORP_ID,
        per_corp=[[2, 3]],
        safety=1.0,
        welcome_reserve=0.0,
    )
    wecom_sandbox.control.add_member(CORP_ID, "guide01", name="导购一", notify=False)
    limiter = RateLimiter(
        tenant_schema="alpha",
        corp_id=CORP_ID,
        overrides={"per_corp": [[2, 3]], "safety": 1.0, "welcome_reserve": 0.0},
    )
    assert limiter.try_acquire(api="message/send", priority="bulk") == 0
    assert limiter.try_acquire(api="message/send", priority="bulk") == 0

    # when a notification task is queued
    queued_at = time.monotonic()
    with schema_context("alpha"), transaction.atomic():
        enqueue(guide_notify_task, userids=["guide01"], text="新客户待跟进")

    # then the worker is told to wait, reschedules the task, and delivers it later
    messages = wait_until(
        lambda: wecom_sandbox.control.member_messages(CORP_ID, "guide01"), timeout=30
    )
    assert len(messages) == 1
    assert time.monotonic() - queued_at >= 2.0
