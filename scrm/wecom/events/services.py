"""The callback inbox: store verified events once, process each once, retry on request."""

import logging
from datetime import timedelta
from typing import Any

import redis
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from scrm.wecom.errors import WeComError
from scrm.wecom.events import parsing
from scrm.wecom.events.registry import handlers_for
from scrm.wecom.models import CallbackEvent

logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=10)
UNQUEUED_AFTER = timedelta(minutes=1)
MAX_ATTEMPTS = 6


class HandlerRetry(Exception):
    """Raised by a handler for a transient failure of its own (not a WeComError)."""


# Our own services going away for a moment (a Redis or PostgreSQL restart, a dropped
# connection): the handler is retried, never recorded as failed.
INFRASTRUCTURE_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OperationalError,
    InterfaceError,
)


def is_transient(exc: Exception) -> bool:
    if isinstance(exc, (HandlerRetry, *INFRASTRUCTURE_ERRORS)):
        return True
    return isinstance(exc, WeComError) and exc.transient


def callback_event_store(
    *, app_kind: str, fields: dict[str, Any], raw_xml: str, tenant_schema: str
) -> CallbackEvent | None:
    """Persist a verified callback and queue its processing after commit.

    Returns None for a duplicate delivery (already stored; nothing queued again).
    """
    from scrm.tenant_tasks import enqueue
    from scrm.wecom.tasks import callback_event_process_task

    try:
        with transaction.atomic():
            event = CallbackEvent.objects.create(
                app_kind=app_kind,
                dedupe_key=parsing.dedupe_key(fields),
                event=str(fields.get("Event") or fields.get("MsgType") or "")[:64],
                change_type=str(fields.get("ChangeType") or "")[:64],
                payload=fields,
                raw_xml=raw_xml,
                create_time=parsing.create_time(fields),
            )
            enqueue(callback_event_process_task, tenant_schema=tenant_schema, event_id=event.pk)
    except IntegrityError:
        return None
    return event


URGENT_ORDER = 10
DEFERRED = "deferred"


def callback_event_claim(*, event_id: int) -> CallbackEvent | None:
    """Take the event for processing; None if another worker has it or it is finished.

    A conditional UPDATE, so two workers racing on one event cannot both win; no row lock
    is held while handlers call WeCom.
    """
    claimed = CallbackEvent.objects.filter(
        pk=event_id,
        status__in=[CallbackEvent.Status.RECEIVED, CallbackEvent.Status.RETRYING],
    ).update(
        status=CallbackEvent.Status.PROCESSING,
        claimed_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    return CallbackEvent.objects.get(pk=event_id)


def callback_event_process(*, event_id: int, urgent_only: bool = False) -> str:
    """Run the event's handlers in order. Returns the new status ("skipped" if not claimed).

    Transient failures leave the event `retrying` (the task retries it with backoff);
    anything else marks it `failed` with the reason. Handlers that finished are recorded
    and not run again on a retry.

    `urgent_only` runs the handlers ordered below URGENT_ORDER (the welcome message) and
    hands the event back as `received` with DEFERRED returned, for the rest to run from
    another queue: the high-priority workers never wait on a detail fetch.
    """
    event = callback_event_claim(event_id=event_id)
    if event is None:
        return "skipped"
    done = list(event.handlers_done)
    for handler in handlers_for(event.event, event.change_type):
        if handler.name in done:
            continue
        if urgent_only and handler.order >= URGENT_ORDER:
            CallbackEvent.objects.filter(pk=event.pk).update(
                status=CallbackEvent.Status.RECEIVED, handlers_done=done
            )
            return DEFERRED
        try:
            handler.func(event)
        except Exception as exc:
            transient = is_transient(exc)
            give_up = event.attempts >= MAX_ATTEMPTS
            status = (
                CallbackEvent.Status.RETRYING
                if transient and not give_up
                else CallbackEvent.Status.FAILED
            )
            CallbackEvent.objects.filter(pk=event.pk).update(
                status=status,
                handlers_done=done,
                last_error=f"{handler.name}: {exc}"[:2000],
                errcode=getattr(exc, "errcode", None),
            )
            if status == CallbackEvent.Status.FAILED:
                logger.exception("callback event %s failed in %s", event.pk, handler.name)
            return status
        done.append(handler.name)
        CallbackEvent.objects.filter(pk=event.pk).update(handlers_done=done)
    CallbackEvent.objects.filter(pk=event.pk).update(
        status=CallbackEvent.Status.DONE, processed_at=timezone.now(), last_error=""
    )
    return CallbackEvent.Status.DONE


@transaction.atomic
def callback_event_retry(*, event: CallbackEvent, actor: Any = None) -> bool:
    """An operator's retry of a failed or stuck event; False if it is not retryable now."""
    from accounts.services import audit_record
    from scrm.tenant_tasks import enqueue
    from scrm.wecom.tasks import callback_event_process_task

    stuck_before = timezone.now() - STUCK_AFTER
    updated = (
        CallbackEvent.objects.filter(pk=event.pk)
        .filter(
            Q(status=CallbackEvent.Status.FAILED)
            | Q(status=CallbackEvent.Status.PROCESSING, claimed_at__lt=stuck_before)
        )
        .update(status=CallbackEvent.Status.RETRYING, attempts=0)
    )
    if updated:
        enqueue(callback_event_process_task, event_id=event.pk)
        audit_record(action="wecom.callback_retried", actor=actor, target=event)
    return bool(updated)


def callback_events_requeue_lost() -> int:
    """Re-queue events whose task never ran (broker down at commit) or whose worker died."""
    from scrm.tenant_tasks import enqueue
    from scrm.wecom.tasks import callback_event_process_task

    now = timezone.now()
    lost = CallbackEvent.objects.filter(
        Q(status=CallbackEvent.Status.RECEIVED, received_at__lt=now - UNQUEUED_AFTER)
        | Q(status=CallbackEvent.Status.PROCESSING, claimed_at__lt=now - STUCK_AFTER)
    ).values_list("pk", flat=True)[:1000]
    ids = list(lost)
    CallbackEvent.objects.filter(pk__in=ids, status=CallbackEvent.Status.PROCESSING).update(
        status=CallbackEvent.Status.RETRYING
    )
    for event_id in ids:
        enqueue(callback_event_process_task, event_id=event_id)
    return len(ids)
