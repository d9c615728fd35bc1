"""Background work of the tag catalogue."""

from celery import Task

from scrm.tenant_tasks import tenant_task
from scrm.wecom.client import backoff_delay

SLICE_ROWS = 500  # rows per task run before the job is queued again


@tenant_task(queue="default")
def tags_pull_task(*, tenant_schema: str) -> int:
    """Periodic: re-read WeCom's corp tags (a lost callback never leaves them stale)."""
    from tagging.services import tags_pull

    return len(tags_pull().changes)


@tenant_task(queue="bulk", bind=True, max_retries=12)
def bulk_tag_job_task(task: Task, *, tenant_schema: str, bulk_tag_job_id: int) -> str:
    """A slice of a bulk tagging job, then the next slice is queued (other tenants' work
    interleaves). Transient WeCom failures retry with backoff; a rate limit reschedules."""
    from scrm.tenant_tasks import enqueue
    from scrm.wecom.errors import WeComError, WeComRateLimited
    from tagging.bulk import BulkNotClaimed, bulk_job_run
    from tagging.models import BulkTagJob

    try:
        status = bulk_job_run(bulk_tag_job_id=bulk_tag_job_id, max_rows=SLICE_ROWS)
    except BulkNotClaimed:
        return "not claimed"
    except WeComRateLimited:
        raise
    except WeComError as exc:
        if not exc.transient:
            raise
        attempt = task.request.retries + 1
        raise task.retry(countdown=backoff_delay(attempt, base=5.0, cap=300.0), exc=exc) from exc
    if status == BulkTagJob.Status.RUNNING:
        enqueue(bulk_tag_job_task, bulk_tag_job_id=bulk_tag_job_id)
    return status


@tenant_task(queue="default")
def bulk_tag_resume_task(*, tenant_schema: str) -> int:
    """Periodic: jobs whose worker died go on from their first unsaved row."""
    from tagging.bulk import bulk_job_resume_stale

    return bulk_job_resume_stale()
