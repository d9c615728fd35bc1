"""The event types an endpoint can subscribe to, and the body every delivery carries."""

import json
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from webhooks.models import Event

CUSTOMER_ADDED = "customer.added"
CUSTOMER_DELETED = "customer.deleted"
CUSTOMER_TAGGED = "customer.tagged"
CUSTOMER_TRANSFERRED = "customer.transferred"
BROADCAST_FINISHED = "broadcast.finished"
HANDOVER_FINISHED = "handover.finished"
# Sent to one endpoint when an operator or integrator asks; never subscribed to.
TEST = "webhook.test"

EVENT_TYPES: dict[str, Promise] = {
    CUSTOMER_ADDED: _("A customer added a guide (new, or back after a deletion)"),
    CUSTOMER_DELETED: _("A customer and a guide parted (deleted by the customer or the guide)"),
    CUSTOMER_TAGGED: _("A customer's tags at a guide changed"),
    CUSTOMER_TRANSFERRED: _("A customer was taken over by another guide (handover)"),
    BROADCAST_FINISHED: _("A group send ended (done, failed or cancelled)"),
    HANDOVER_FINISHED: _("A handover finished"),
}


def iso(value: datetime | None) -> str | None:
    """Times in bodies: ISO 8601 with the offset, in the platform's time zone."""
    return timezone.localtime(value).isoformat() if value is not None else None


def event_body(event: Event, *, tenant: str) -> bytes:
    """The JSON body of a delivery: the same bytes for every attempt of the event."""
    envelope: dict[str, Any] = {
        "id": event.public_id,
        "type": event.type,
        "occurred_at": iso(event.occurred_at),
        "tenant": tenant,
        "data": event.data,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
