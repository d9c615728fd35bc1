from celery import Task

from scrm.tenant_tasks import enqueue, tenant_task
from scrm.wecom.client import backoff_delay
from scrm.wecom.events import services
from scrm.wecom.models import CallbackEvent


@tenant_task(queue="high", bind=True, max_retries=services.MAX_ATTEMPTS)
def callback_event_process_task(task: Task, *, tenant_schema: str, event_id: int) -> str:
    """Process one stored callback's urgent handlers (the welcome), then hand the rest to
    the default queue; transient failures come back with backoff."""
    status = services.callback_event_process(event_id=event_id, urgent_only=True)
    if status == services.DEFERRED:
        enqueue(callback_event_continue_task, event_id=event_id)
    elif status == CallbackEvent.Status.RETRYING:
        attempt = task.request.retries + 1
        raise task.retry(countdown=backoff_delay(attempt, base=2.0, cap=120.0))
    return status


@tenant_task(queue="default", bind=True, max_retries=services.MAX_ATTEMPTS)
def callback_event_continue_task(task: Task, *, tenant_schema: str, event_id: int) -> str:
    """The handlers of a callback after the urgent ones (contact book, attribution, ...)."""
    status = services.callback_event_process(event_id=event_id)
    if status == CallbackEvent.Status.RETRYING:
        attempt = task.request.retries + 1
        raise task.retry(countdown=backoff_delay(attempt, base=2.0, cap=120.0))
    return status


@tenant_task(queue="default")
def callback_events_requeue_lost_task(*, tenant_schema: str) -> int:
    """Periodic: nothing received is ever left behind."""
    return services.callback_events_requeue_lost()


@tenant_task(queue="bulk")
def media_refresh_task(*, tenant_schema: str) -> int:
    """Periodic: re-upload media before WeCom's 3-day expiry."""
    from scrm.wecom.media import media_refresh_expiring

    return media_refresh_expiring()


@tenant_task(queue="bulk", max_retries=5)
def guide_notify_task(*, tenant_schema: str, userids: list[str], text: str) -> list[str]:
    """Send an app message to guides; returns the userids WeCom refused."""
    from scrm.wecom.notifications import guide_notify

    return guide_notify(userids=userids, text=text).invalid
