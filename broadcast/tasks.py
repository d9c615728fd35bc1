"""Background work of group sends: planning, creating the templates, reading results, and
the periodic tick."""

from celery import Task
from django.db.models import Q
from django.utils import timezone

from scrm.tenant_tasks import tenant_task
from scrm.wecom.client import backoff_delay

SLICE_CHUNKS = 20  # templates created per task run before the broadcast is queued again


@tenant_task(queue="bulk")
def broadcast_plan_task(*, tenant_schema: str, broadcast_id: int) -> str:
    """Freeze a group send's audience into deliveries (re-runs from scratch if killed)."""
    from broadcast.models import Broadcast
    from broadcast.planning import BroadcastInputError, broadcast_plan

    try:
        return broadcast_plan(broadcast_id=broadcast_id).status
    except BroadcastInputError as exc:
        # Planned meanwhile (a second run queued by the tick), or impossible: say why.
        Broadcast.objects.filter(pk=broadcast_id, status=Broadcast.Status.PLANNING).update(
            status=Broadcast.Status.FAILED, error=str(exc)[:300], lease_until=None
        )
        return Broadcast.objects.values_list("status", flat=True).get(pk=broadcast_id)


@tenant_task(queue="bulk", bind=True, max_retries=12)
def broadcast_dispatch_task(task: Task, *, tenant_schema: str, broadcast_id: int) -> str:
    """A slice of a broadcast's templates, then the next slice is queued. Transient WeCom
    failures retry with backoff (the template is looked for in WeCom before it is created
    again)."""
    from broadcast.dispatch import BroadcastNotClaimed, broadcast_dispatch
    from broadcast.models import Broadcast
    from scrm.tenant_tasks import enqueue
    from scrm.wecom.errors import WeComError, WeComRateLimited

    try:
        status = broadcast_dispatch(broadcast_id=broadcast_id, max_chunks=SLICE_CHUNKS)
    except BroadcastNotClaimed:
        return "not claimed"
    except WeComRateLimited:
        raise
    except WeComError as exc:
        if not exc.transient:
            raise
        attempt = task.request.retries + 1
        raise task.retry(countdown=backoff_delay(attempt, base=5.0, cap=300.0), exc=exc) from exc
    if status == Broadcast.Status.DISPATCHING:
        enqueue(broadcast_dispatch_task, broadcast_id=broadcast_id)
    return status


@tenant_task(queue="bulk", bind=True, max_retries=6)
def broadcast_sync_task(task: Task, *, tenant_schema: str, broadcast_id: int) -> str:
    from broadcast.services import broadcast_sync
    from scrm.wecom.errors import WeComError, WeComRateLimited

    try:
        return broadcast_sync(broadcast_id=broadcast_id)
    except WeComRateLimited:
        raise
    except WeComError as exc:
        if not exc.transient:
            raise
        attempt = task.request.retries + 1
        raise task.retry(countdown=backoff_delay(attempt, base=5.0, cap=300.0), exc=exc) from exc


@tenant_task(queue="default")
def broadcast_tick_task(*, tenant_schema: str) -> dict[str, int]:
    """Periodic (every minute): start scheduled sends that are due, resume dispatching whose
    worker died, read results that are due."""
    from broadcast.dispatch import lease
    from broadcast.models import Broadcast
    from broadcast.services import scheduled_start_due
    from scrm.tenant_tasks import enqueue

    now = timezone.now()
    replanned = 0
    for pk in Broadcast.objects.filter(
        status=Broadcast.Status.PLANNING, lease_until__lt=now
    ).values_list("pk", flat=True):
        Broadcast.objects.filter(pk=pk).update(lease_until=now + lease())
        enqueue(broadcast_plan_task, broadcast_id=pk)
        replanned += 1
    started = scheduled_start_due(now=now)
    resumed = 0
    stale = Broadcast.objects.filter(status=Broadcast.Status.DISPATCHING).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    for pk in stale.exclude(pk__in=started).values_list("pk", flat=True):
        enqueue(broadcast_dispatch_task, broadcast_id=pk)
        resumed += 1
    synced = 0
    due = Broadcast.objects.filter(status=Broadcast.Status.WAITING, next_sync_at__lte=now)
    for pk in due.values_list("pk", flat=True):
        enqueue(broadcast_sync_task, broadcast_id=pk)
        synced += 1
    return {
        "replanned": replanned,
        "started": len(started),
        "resumed": resumed,
        "synced": synced,
    }
