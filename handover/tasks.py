"""Background work of handovers: sending, polling WeCom's results, the periodic tick."""

import contextlib
from datetime import timedelta

from celery import Task
from django.db.models import Q
from django.utils import timezone

from scrm.tenant_tasks import tenant_task
from scrm.wecom.client import backoff_delay

SLICE_BATCHES = 20  # WeCom calls per task run before the handover is queued again
UNASSIGNED_EVERY = timedelta(hours=1)


@tenant_task(queue="bulk", bind=True, max_retries=12)
def handover_send_task(task: Task, *, tenant_schema: str, handover_id: int) -> str:
    """A slice of a handover's sending, then the next slice is queued. Transient WeCom
    failures retry with backoff (the batch is looked up in WeCom before it is sent again)."""
    from handover.models import Handover
    from handover.transfer import HandoverNotClaimed, handover_send
    from scrm.tenant_tasks import enqueue
    from scrm.wecom.errors import WeComError, WeComRateLimited

    try:
        status = handover_send(handover_id=handover_id, max_batches=SLICE_BATCHES)
    except HandoverNotClaimed:
        return "not claimed"
    except WeComRateLimited:
        raise
    except WeComError as exc:
        if not exc.transient:
            raise
        attempt = task.request.retries + 1
        raise task.retry(countdown=backoff_delay(attempt, base=5.0, cap=300.0), exc=exc) from exc
    if status == Handover.Status.SENDING:
        enqueue(handover_send_task, handover_id=handover_id)
    return status


@tenant_task(queue="bulk", bind=True, max_retries=6)
def handover_poll_task(task: Task, *, tenant_schema: str, handover_id: int) -> str:
    from handover.transfer import handover_poll
    from scrm.wecom.errors import WeComError, WeComRateLimited

    try:
        return handover_poll(handover_id=handover_id)
    except WeComRateLimited:
        raise
    except WeComError as exc:
        if not exc.transient:
            raise
        attempt = task.request.retries + 1
        raise task.retry(countdown=backoff_delay(attempt, base=5.0, cap=300.0), exc=exc) from exc


@tenant_task(queue="default")
def handover_tick_task(*, tenant_schema: str) -> dict[str, int]:
    """Periodic (every minute): start proposals whose grace period is over, resume sending
    whose worker died, poll results that are due, and hourly read WeCom's unassigned list."""
    from handover.models import Handover
    from handover.services import handover_settings, proposals_start_due, unassigned_check
    from scrm.tenant_tasks import enqueue
    from scrm.wecom.client import WeComNotConnected

    now = timezone.now()
    started = proposals_start_due(now=now)
    stale = Handover.objects.filter(status=Handover.Status.SENDING).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    resumed = 0
    for pk in stale.values_list("pk", flat=True):
        enqueue(handover_send_task, handover_id=pk)
        resumed += 1
    due = Handover.objects.filter(status=Handover.Status.WAITING, next_poll_at__lte=now)
    polled = 0
    for pk in due.values_list("pk", flat=True):
        enqueue(handover_poll_task, handover_id=pk)
        polled += 1
    checked = handover_settings().unassigned_checked_at
    unassigned = 0
    if checked is None or checked < now - UNASSIGNED_EVERY:
        with contextlib.suppress(WeComNotConnected):
            unassigned = unassigned_check()["proposed"]
    return {"started": len(started), "resumed": resumed, "polled": polled, "proposed": unassigned}
