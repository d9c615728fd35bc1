"""Writes of webhooks: endpoints (create, edit, rotate the secret, enable, disable, delete),
test events, manual redelivery, automatic disabling with its operator notice, the periodic
re-queue of due and lost deliveries, and retention.

Every change operators or integrators make is in the audit log; so is an automatic
disabling. What a service refuses raises WebhookInputError naming the field.
"""

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from tagging.services import actor_label
from webhooks import events
from webhooks.emit import deliveries_queue, subscriptions_changed, tenant_schema
from webhooks.models import Delivery, Endpoint, Event
from webhooks.targets import TargetRefused, url_check

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_MIN = 16
SECRET_MAX = 200
DESCRIPTION_MAX = 200
ROTATION_GRACE = timedelta(hours=24)
REQUEUE_AFTER = timedelta(minutes=5)  # a queued task not run by then is queued again
REQUEUE_BATCH = 2000
PRUNE_BATCH = 5000


class WebhookInputError(Exception):
    def __init__(self, message: str, *, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.field = field


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def clean_url(url: str) -> str:
    url = (url or "").strip()
    try:
        url_check(url)
    except TargetRefused as exc:
        raise WebhookInputError(str(exc), field="url") from None
    return url


def clean_event_types(event_types: list[str]) -> list[str]:
    wanted = sorted(set(event_types))
    if not wanted:
        raise WebhookInputError(_("Choose at least one event."), field="event_types")
    unknown = [t for t in wanted if t not in events.EVENT_TYPES]
    if unknown:
        raise WebhookInputError(
            _("Unknown events: %(types)s.") % {"types": ", ".join(unknown)},
            field="event_types",
        )
    return wanted


def clean_secret(secret: str) -> str:
    if not SECRET_MIN <= len(secret) <= SECRET_MAX or not secret.isprintable():
        raise WebhookInputError(
            _("A secret is %(min)d to %(max)d printable characters.")
            % {"min": SECRET_MIN, "max": SECRET_MAX},
            field="secret",
        )
    return secret


# --- the operator notice ------------------------------------------------------------------


def notice_key(schema: str) -> str:
    return f"webhooks:notice:{schema}"


def notice_get() -> list[dict[str, Any]]:
    """Endpoints disabled after failures, for the console's banner (a cache read only, so
    every console page can afford it)."""
    schema = tenant_schema()
    if schema is None:
        return []
    return list(cache.get(notice_key(schema)) or [])


def notice_set(endpoints: list[Endpoint]) -> None:
    """The banner from these endpoints (all of the tenant's); kept until they change."""
    disabled = [
        {"id": e.pk, "url": e.url, "description": e.description}
        for e in endpoints
        if not e.is_enabled and e.disabled_by == Endpoint.DisabledBy.FAILURES
    ]
    key = notice_key(tenant_schema() or "")
    if disabled:
        cache.set(key, disabled, timeout=None)
    else:
        cache.delete(key)


def notice_refresh() -> None:
    endpoints = list(
        Endpoint.objects.order_by("pk").only("url", "description", "is_enabled", "disabled_by")
    )
    transaction.on_commit(lambda: notice_set(endpoints))


# --- endpoints ----------------------------------------------------------------------------


@transaction.atomic
def endpoint_create(
    *,
    url: str,
    event_types: list[str],
    description: str = "",
    secret: str | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> tuple[Endpoint, str]:
    """A new enabled endpoint; returns it with its secret, the only time it is shown."""
    plain = clean_secret(secret) if secret else secret_generate()
    endpoint = Endpoint.objects.create(
        url=clean_url(url),
        event_types=clean_event_types(event_types),
        description=description.strip()[:DESCRIPTION_MAX],
        secret=plain,
        created_by=actor_label(actor),
    )
    audit_record(
        action="webhook.created",
        actor=actor,
        target=endpoint,
        detail={"url": endpoint.url, "event_types": endpoint.event_types},
        request=request,
    )
    subscriptions_changed()
    return endpoint, plain


def _locked(endpoint: Endpoint) -> Endpoint:
    return Endpoint.objects.select_for_update().get(pk=endpoint.pk)


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> Endpoint:
    """Change what is given; `enabled` enables (failures forgotten) or disables it."""
    endpoint = _locked(endpoint)
    changes: dict[str, Any] = {}
    if url is not None and url.strip() != endpoint.url:
        changes["url"] = clean_url(url)
    if event_types is not None and sorted(set(event_types)) != sorted(endpoint.event_types):
        changes["event_types"] = clean_event_types(event_types)
    if description is not None and description.strip() != endpoint.description:
        changes["description"] = description.strip()[:DESCRIPTION_MAX]
    if changes:
        for name, value in changes.items():
            setattr(endpoint, name, value)
        endpoint.updated_at = timezone.now()
        endpoint.save(update_fields=[*changes, "updated_at"])
        audit_record(
            action="webhook.updated",
            actor=actor,
            target=endpoint,
            detail=changes,
            request=request,
        )
        subscriptions_changed()
    if enabled is True and not endpoint.is_enabled:
        endpoint = endpoint_enable(endpoint=endpoint, actor=actor, request=request)
    elif enabled is False and endpoint.is_enabled:
        endpoint = endpoint_disable(endpoint=endpoint, actor=actor, request=request)
    return endpoint


@transaction.atomic
def endpoint_enable(
    *, endpoint: Endpoint, actor: Any = None, request: HttpRequest | None = None
) -> Endpoint:
    """Enable again (after an automatic or an operator's disabling): failures forgotten.
    Deliveries cancelled while it was disabled stay cancelled; redeliver them if needed."""
    endpoint = _locked(endpoint)
    if endpoint.is_enabled:
        return endpoint
    was = endpoint.disabled_by
    endpoint.is_enabled, endpoint.disabled_at, endpoint.disabled_by = True, None, ""
    endpoint.consecutive_failures = 0
    endpoint.updated_at = timezone.now()
    endpoint.save(
        update_fields=[
            "is_enabled",
            "disabled_at",
            "disabled_by",
            "consecutive_failures",
            "updated_at",
        ]
    )
    audit_record(
        action="webhook.enabled",
        actor=actor,
        target=endpoint,
        detail={"was_disabled_by": was},
        request=request,
    )
    subscriptions_changed()
    notice_refresh()
    return endpoint


def _disable(endpoint: Endpoint, by: str) -> int:
    """Disable the (locked) endpoint; its event deliveries waiting for a retry are
    cancelled. Returns how many."""
    now = timezone.now()
    endpoint.is_enabled, endpoint.disabled_at, endpoint.disabled_by = False, now, by
    endpoint.updated_at = now
    endpoint.save(update_fields=["is_enabled", "disabled_at", "disabled_by", "updated_at"])
    cancelled = Delivery.objects.filter(
        endpoint=endpoint, status=Delivery.Status.PENDING, trigger=Delivery.Trigger.EVENT
    ).update(status=Delivery.Status.CANCELLED, finished_at=now, last_error="endpoint disabled")
    subscriptions_changed()
    return cancelled


@transaction.atomic
def endpoint_disable(
    *, endpoint: Endpoint, actor: Any = None, request: HttpRequest | None = None
) -> Endpoint:
    """An operator stops the endpoint: no events are stored for it until it is enabled."""
    endpoint = _locked(endpoint)
    if not endpoint.is_enabled:
        return endpoint
    cancelled = _disable(endpoint, Endpoint.DisabledBy.OPERATOR)
    audit_record(
        action="webhook.disabled",
        actor=actor,
        target=endpoint,
        detail={"by": "operator", "deliveries_cancelled": cancelled},
        request=request,
    )
    return endpoint


@transaction.atomic
def endpoint_disable_after_failures(*, endpoint_id: int) -> bool:
    """Too many deliveries in a row used up their retries: disable the endpoint, write the
    audit log and raise the console's notice. False when it was disabled already."""
    endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None or not endpoint.is_enabled:
        return False
    cancelled = _disable(endpoint, Endpoint.DisabledBy.FAILURES)
    audit_record(
        action="webhook.disabled",
        target=endpoint,
        detail={
            "by": "failures",
            "consecutive_failures": endpoint.consecutive_failures,
            "deliveries_cancelled": cancelled,
        },
    )
    notice_refresh()
    return True


@transaction.atomic
def endpoint_secret_rotate(
    *,
    endpoint: Endpoint,
    keep_previous: bool = True,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> str:
    """A new secret, returned (the only time it is shown). With `keep_previous`, requests
    are signed with the old secret too for 24 hours, so receivers can switch over."""
    endpoint = _locked(endpoint)
    plain = secret_generate()
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret if keep_previous else ""
    endpoint.previous_secret_until = now + ROTATION_GRACE if keep_previous else None
    endpoint.secret = plain
    endpoint.updated_at = now
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"]
    )
    audit_record(
        action="webhook.secret_rotated",
        actor=actor,
        target=endpoint,
        detail={"previous_valid_until": events.iso(endpoint.previous_secret_until)},
        request=request,
    )
    return plain


@transaction.atomic
def endpoint_delete(
    *, endpoint: Endpoint, actor: Any = None, request: HttpRequest | None = None
) -> None:
    """The endpoint and its delivery log (in SQL: a log may be long)."""
    endpoint = _locked(endpoint)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM webhooks_attempt WHERE delivery_id IN "
            "(SELECT id FROM webhooks_delivery WHERE endpoint_id = %s)",
            [endpoint.pk],
        )
        cursor.execute("DELETE FROM webhooks_delivery WHERE endpoint_id = %s", [endpoint.pk])
    audit_record(
        action="webhook.deleted",
        actor=actor,
        target=endpoint,
        detail={"url": endpoint.url},
        request=request,
    )
    endpoint.delete()
    subscriptions_changed()
    notice_refresh()


# --- test events and redelivery ---------------------------------------------------------


@transaction.atomic
def endpoint_test(
    *, endpoint: Endpoint, actor: Any = None, request: HttpRequest | None = None
) -> Delivery:
    """Send a `webhook.test` event to this endpoint only (even a disabled one), through
    the same delivery, signature and retries as events."""
    now = timezone.now()
    event = Event.objects.create(
        type=events.TEST,
        occurred_at=now,
        data={
            "message": "This is a test event from the SCRM. 这是一条测试事件。",
            "endpoint": {"id": endpoint.pk, "url": endpoint.url},
            "requested_by": actor_label(actor),
        },
    )
    delivery = Delivery.objects.create(
        event=event,
        endpoint=endpoint,
        trigger=Delivery.Trigger.TEST,
        requested_by=actor_label(actor),
        next_attempt_at=now,
        queued_at=now,
    )
    deliveries_queue([delivery.pk])
    return delivery


@transaction.atomic
def delivery_redeliver(
    *, delivery: Delivery, actor: Any = None, request: HttpRequest | None = None
) -> Delivery:
    """A new delivery of the same event (same event id and body) to the same endpoint, even
    a disabled one; the original stays in the log as it was."""
    now = timezone.now()
    again = Delivery.objects.create(
        event_id=delivery.event_id,
        endpoint_id=delivery.endpoint_id,
        trigger=Delivery.Trigger.REDELIVERY,
        redelivery_of=delivery,
        requested_by=actor_label(actor),
        next_attempt_at=now,
        queued_at=now,
    )
    audit_record(
        action="webhook.redelivered",
        actor=actor,
        target=again,
        detail={"delivery": delivery.pk, "endpoint": delivery.endpoint_id},
        request=request,
    )
    deliveries_queue([again.pk])
    return again


# --- periodic work --------------------------------------------------------------------------


def deliveries_requeue(*, now: datetime | None = None) -> int:
    """Queue deliveries that are due and not queued recently (retries far in the future
    are queued here rather than with a countdown), and those whose worker died (lease run
    out). Returns how many were queued."""
    now = now or timezone.now()
    not_queued_lately = Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER)
    due = Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now) & not_queued_lately
    lost = Q(status=Delivery.Status.SENDING, lease_until__lt=now) & (
        not_queued_lately | Q(queued_at__lt=F("lease_until"))
    )
    ids = list(
        Delivery.objects.filter(due | lost)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    if not ids:
        return 0
    Delivery.objects.filter(pk__in=ids).update(queued_at=now)
    deliveries_queue(ids)
    return len(ids)


def events_prune(*, now: datetime | None = None) -> int:
    """Events older than WEBHOOK_RETENTION_DAYS whose deliveries are all over, with their
    deliveries and attempts, in batches. Returns how many events were deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            Event.objects.filter(created_at__lt=cutoff)
            .exclude(deliveries__status__in=[Delivery.Status.PENDING, Delivery.Status.SENDING])
            .order_by("pk")
            .values_list("pk", flat=True)[:PRUNE_BATCH]
        )
        if not ids:
            return deleted
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM webhooks_attempt WHERE delivery_id IN "
                "(SELECT id FROM webhooks_delivery WHERE event_id = ANY(%s))",
                [ids],
            )
            cursor.execute("DELETE FROM webhooks_delivery WHERE event_id = ANY(%s)", [ids])
            cursor.execute("DELETE FROM webhooks_event WHERE id = ANY(%s)", [ids])
        deleted += len(ids)
