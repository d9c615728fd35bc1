"""Background work of the contact book."""

from celery import Task

from scrm.tenant_tasks import tenant_task
from scrm.wecom.client import backoff_delay


@tenant_task(queue="bulk", bind=True, max_retries=8)
def contacts_sync_task(task: Task, *, tenant_schema: str, sync_run_id: int) -> str:
    """Run (or resume) a full sync until it finishes. Transient WeCom failures come back
    with backoff from the last checkpoint; a rate limit reschedules (tenant_task)."""
    from contacts.sync import sync_run
    from scrm.wecom.errors import WeComError, WeComRateLimited

    try:
        return sync_run(sync_run_id=sync_run_id)
    except WeComRateLimited:
        raise
    except WeComError as exc:
        if not exc.transient:
            raise
        attempt = task.request.retries + 1
        raise task.retry(countdown=backoff_delay(attempt, base=5.0, cap=300.0), exc=exc) from exc


@tenant_task(queue="bulk")
def contacts_sync_scheduled_task(*, tenant_schema: str) -> int | None:
    """Nightly: a full sync, unless the brand turned it off or one is running."""
    from contacts.services import SyncAlreadyRunning, contact_settings_get, sync_start

    if not contact_settings_get().daily_sync_enabled:
        return None
    try:
        return sync_start(trigger="schedule").pk
    except SyncAlreadyRunning:
        return None


@tenant_task(queue="default")
def contacts_sync_resume_task(*, tenant_schema: str) -> int:
    """Periodic: runs whose worker died go on from their checkpoint."""
    from contacts.sync import sync_resume_stale

    return sync_resume_stale()


@tenant_task(queue="default")
def deletion_digest_task(*, tenant_schema: str) -> int:
    """Daily: the deletion digest, for brands that chose it over immediate alerts."""
    from contacts.alerts import deletion_digest_send

    return deletion_digest_send()
