"""Reads of webhooks for the console and the API. Lists never decrypt secrets."""

import uuid
from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from webhooks.models import Attempt, Delivery, Endpoint

SECRETS = ("secret", "previous_secret")


def endpoint_list() -> QuerySet[Endpoint]:
    return Endpoint.objects.defer(*SECRETS).order_by("-id")


def endpoint_get(*, endpoint_id: int) -> Endpoint:
    """One endpoint (its secrets loaded: the detail page shows a hint)."""
    return Endpoint.objects.get(pk=endpoint_id)


def parse_event_id(value: str) -> uuid.UUID | None:
    """`evt_<32 hex>` (as in bodies and headers) or a bare UUID; None when it is neither."""
    text = value.strip()
    text = text.removeprefix("evt_")
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def delivery_list(
    *,
    endpoint_id: int | None = None,
    statuses: Iterable[str] = (),
    event_type: str = "",
    event_id: uuid.UUID | None = None,
) -> QuerySet[Delivery]:
    """Deliveries newest first, with their event and endpoint (one query a page)."""
    qs = Delivery.objects.select_related("event", "endpoint").defer(
        *(f"endpoint__{name}" for name in SECRETS)
    )
    if endpoint_id is not None:
        qs = qs.filter(endpoint_id=endpoint_id)
    statuses = list(statuses)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if event_type:
        qs = qs.filter(event__type=event_type)
    if event_id is not None:
        qs = qs.filter(event__event_id=event_id)
    return qs.order_by("-id")


def delivery_get(*, delivery_id: int) -> Delivery:
    """One delivery with its event, endpoint and attempts."""
    return (
        Delivery.objects.select_related("event", "endpoint")
        .defer(*(f"endpoint__{name}" for name in SECRETS))
        .prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("number")))
        .get(pk=delivery_id)
    )
