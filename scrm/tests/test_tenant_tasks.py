"""Tenant tasks: schema stamped at publish, on-commit only, public refused, real worker."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.tasks import api_key_mark_used_task
from accounts.tests.factories import AuditLogEntryFactory, make_api_key
from scrm.tenant_tasks import (
    TenantTaskRefused,
    check_task_arguments,
    enqueue,
    fan_out_to_tenants,
)
from tests.polling import wait_until

USED_AT = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)


def test_task_given_public_refuses_to_run():
    result = api_key_mark_used_task.apply(
        kwargs={"tenant_schema": "public", "api_key_id": 1, "used_at": USED_AT.isoformat()}
    )
    assert result.failed()
    assert isinstance(result.result, TenantTaskRefused)


def test_task_given_unknown_schema_refuses_to_run(db):
    result = api_key_mark_used_task.apply(
        kwargs={"tenant_schema": "nobody", "api_key_id": 1, "used_at": USED_AT.isoformat()}
    )
    assert isinstance(result.result, TenantTaskRefused)


def test_enqueue_outside_a_tenant_is_refused():
    connection.set_schema_to_public()
    with pytest.raises(TenantTaskRefused):
        enqueue(api_key_mark_used_task, api_key_id=1, used_at=USED_AT.isoformat())


@pytest.mark.parametrize("bad", [object(), {1, 2}, datetime.now(tz=UTC), {"a": [object()]}])
def test_task_arguments_must_be_plain_json(bad):
    with pytest.raises(TypeError):
        check_task_arguments({"value": bad})


def test_deactivated_tenant_task_is_skipped(db, tenant_a):
    from tenants.services import tenant_set_active

    tenant_set_active(tenant=tenant_a, active=False)
    result = api_key_mark_used_task.apply(
        kwargs={"tenant_schema": "alpha", "api_key_id": 1, "used_at": USED_AT.isoformat()}
    )
    assert result.successful()
    assert result.result is None


SHARED_KEY_ID = 4242  # above the ids other tests' keys get, so no stray task names it


def _same_id_keys() -> int:
    for schema in ("alpha", "beta"):
        with schema_context(schema):
            key, _ = make_api_key(name=f"{schema} key")
            APIKey.objects.filter(pk=key.pk).update(id=SHARED_KEY_ID)
    return SHARED_KEY_ID


def _last_used(schema: str, key_id: int) -> datetime | None:
    with schema_context(schema):
        return APIKey.objects.get(pk=key_id).last_used_at


@pytest.mark.slow
def test_worker_runs_task_in_the_right_schema(committed_db, celery_worker):
    # given keys with the same id in alpha and beta
    key_id = _same_id_keys()

    # when a task for alpha is queued from alpha
    with schema_context("alpha"), transaction.atomic():
        enqueue(api_key_mark_used_task, api_key_id=key_id, used_at=USED_AT.isoformat())

    # then the worker writes alpha's key, and beta's key with the same id is untouched (the
    # first task of a session worker on a loaded 2-core machine took over 20 s once)
    wait_until(lambda: _last_used("alpha", key_id) == USED_AT, timeout=60)
    assert _last_used("beta", key_id) is None


@pytest.mark.slow
def test_task_queued_in_rolled_back_transaction_never_runs(committed_db, celery_worker):
    key_id = _same_id_keys()

    # given a task queued for alpha inside a transaction that rolls back
    def cancelled_change() -> None:
        with schema_context("alpha"), transaction.atomic():
            enqueue(api_key_mark_used_task, api_key_id=key_id, used_at=USED_AT.isoformat())
            raise RuntimeError("operator cancelled")

    with pytest.raises(RuntimeError):
        cancelled_change()
    # and then a committed task for beta on the same queue
    with schema_context("beta"), transaction.atomic():
        enqueue(api_key_mark_used_task, api_key_id=key_id, used_at=USED_AT.isoformat())

    # when the worker has run beta's task (it runs the queue in order)
    wait_until(lambda: _last_used("beta", key_id) == USED_AT)

    # then alpha's task was never sent
    assert _last_used("alpha", key_id) is None


@pytest.mark.slow
def test_periodic_fan_out_runs_once_per_active_tenant(committed_db, celery_worker):
    # given an old audit entry and a recent one in each tenant
    old = timezone.now() - timedelta(days=400)
    for schema in ("alpha", "beta"):
        with schema_context(schema):
            AuditLogEntryFactory(created_at=old, target_label="old")
            AuditLogEntryFactory(target_label="recent")

    # when beat's fan-out for audit retention runs
    fan_out_to_tenants.delay(task_name="accounts.tasks.audit_log_prune_task")

    # then each tenant's retention task pruned its own old entries only
    def pruned() -> bool:
        remaining = []
        for schema in ("alpha", "beta"):
            with schema_context(schema):
                remaining.append(set(AuditLogEntry.objects.values_list("target_label", flat=True)))
        return remaining == [{"recent"}, {"recent"}]

    wait_until(pruned)


def test_tasks_are_routed_to_their_declared_queue():
    from scrm.celery import route_by_declared_queue

    assert route_by_declared_queue("accounts.tasks.audit_log_prune_task") == {"queue": "bulk"}
    assert route_by_declared_queue("accounts.tasks.api_key_mark_used_task") == {"queue": "default"}


def test_a_throttled_task_is_queued_again_however_often_not_retried(db, tenant_a, monkeypatch):
    """A busy limiter may throttle a task many times: each time it is a new message with
    the limiter's countdown, never a retry that would use up max_retries and drop it."""
    from celery.exceptions import Ignore

    from broadcast import dispatch
    from broadcast.tasks import broadcast_dispatch_task
    from scrm.wecom.errors import WeComRateLimited

    def throttled(**kwargs):
        raise WeComRateLimited(api="externalcontact/add_msg_template", retry_after=0.25)

    monkeypatch.setattr(dispatch, "broadcast_dispatch", throttled)
    queued = []
    monkeypatch.setattr(
        broadcast_dispatch_task, "apply_async", lambda **options: queued.append(options)
    )
    for _time in range(30):  # more than the task's max_retries (12)
        with pytest.raises(Ignore):
            broadcast_dispatch_task(tenant_schema="alpha", broadcast_id=7)
    assert len(queued) == 30
    assert queued[-1] == {
        "kwargs": {"broadcast_id": 7, "tenant_schema": "alpha"},
        "countdown": 0.25,
    }
