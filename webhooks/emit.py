"""Emitting events from the domain code: one call per place, inside the change's transaction.

    emit_customer_deleted(relation_id=relation.pk, status=status, at=at)

An emission first asks which event types the tenant's enabled endpoints subscribe to (a
cache key naming the tenant, read from the database at most every few minutes and forgotten
whenever an endpoint changes), so a tenant without webhooks pays one cache read and
nothing else: no payload is built, nothing is stored. Otherwise the events are stored in
bulk with one delivery per subscribed endpoint, in the caller's transaction, and the
deliveries are queued on the `webhooks` queue once it commits (a rolled-back change emits
nothing). Payloads are built by webhooks.payloads with a fixed number of queries whatever
the number of events.
"""

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name
from psycopg2.extras import execute_values

from webhooks import events
from webhooks.models import Delivery, Endpoint

SUBSCRIPTIONS_SECONDS = 300
DIRECT_QUEUE_MAX = 50  # more deliveries than this are queued by a task on the webhooks queue
QUEUE_BATCH = 500


@dataclass(frozen=True)
class Occurrence:
    occurred_at: datetime
    data: dict[str, Any]
    dedupe_key: str | None = None


def tenant_schema() -> str | None:
    """The current tenant's schema; None in the public schema."""
    schema = getattr(connection, "schema_name", None)
    if not schema or schema == get_public_schema_name():
        return None
    return str(schema)


def subscriptions_key(schema: str) -> str:
    # The cache's key function prefixes the schema too; the key names it all the same.
    return f"webhooks:subscribed:{schema}"


def subscribed_types() -> frozenset[str]:
    """Event types some enabled endpoint of the current tenant subscribes to (cached)."""
    schema = tenant_schema()
    if schema is None:
        return frozenset()
    key = subscriptions_key(schema)
    types = cache.get(key)
    if types is None:
        rows = Endpoint.objects.filter(is_enabled=True).values_list("event_types", flat=True)
        types = sorted({event_type for row in rows for event_type in row})
        cache.set(key, types, SUBSCRIPTIONS_SECONDS)
    return frozenset(types)


def subscriptions_changed() -> None:
    """An endpoint was saved, enabled, disabled or deleted: forget the cached subscriptions
    now and again after the commit (an emitter may have cached the old list meanwhile)."""
    schema = tenant_schema()
    if schema is None:
        return
    key = subscriptions_key(schema)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


EVENT_INSERT = """
INSERT INTO webhooks_event (event_id, type, occurred_at, data, dedupe_key, created_at)
VALUES %s
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""


def _events_insert(event_type: str, occurrences: list[Occurrence]) -> list[int]:
    now = timezone.now()
    values = [
        (
            str(uuid.uuid4()),
            event_type,
            o.occurred_at,
            json.dumps(o.data, cls=DjangoJSONEncoder, ensure_ascii=False),
            o.dedupe_key,
            now,
        )
        for o in occurrences
    ]
    with connection.cursor() as cursor:
        rows = execute_values(
            cursor.cursor,
            EVENT_INSERT,
            values,
            template="(%s::uuid, %s, %s, %s::jsonb, %s, %s)",
            page_size=1000,
            fetch=True,
        )
    return [row[0] for row in rows]


def events_emit(event_type: str, build: Callable[[], Iterable[Occurrence]]) -> int:
    """Store events of one type with a delivery per enabled endpoint subscribed to it, and
    queue the deliveries after the commit. `build` runs only when some endpoint subscribes.
    Returns the number of events stored."""
    if event_type not in subscribed_types():
        return 0
    endpoint_ids = list(
        Endpoint.objects.filter(is_enabled=True, event_types__contains=[event_type])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not endpoint_ids:
        return 0
    occurrences = list(build())
    if not occurrences:
        return 0
    with transaction.atomic():
        event_ids = _events_insert(event_type, occurrences)
        now = timezone.now()
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(
                    event_id=event_id,
                    endpoint_id=endpoint_id,
                    next_attempt_at=now,
                    queued_at=now,
                    created_at=now,
                )
                for event_id in event_ids
                for endpoint_id in endpoint_ids
            ],
            batch_size=5000,
        )
        deliveries_queue([d.pk for d in deliveries])
    return len(event_ids)


def deliveries_queue(delivery_ids: list[int]) -> None:
    """Queue the deliveries' tasks once the transaction commits; many at once are queued by
    tasks on the webhooks queue rather than here, one message per delivery."""
    from scrm.tenant_tasks import enqueue
    from webhooks.tasks import webhook_deliveries_queue_task, webhook_delivery_send_task

    if len(delivery_ids) <= DIRECT_QUEUE_MAX:
        for delivery_id in delivery_ids:
            enqueue(webhook_delivery_send_task, delivery_id=delivery_id)
        return
    for start in range(0, len(delivery_ids), QUEUE_BATCH):
        batch = delivery_ids[start : start + QUEUE_BATCH]
        enqueue(webhook_deliveries_queue_task, delivery_ids=batch)


# --- the calls the domain code makes --------------------------------------------------------


def emit_customers_added(*, relation_ids: list[int]) -> int:
    """New relations, and relations back after a deletion (from a callback or a sync)."""
    from webhooks import payloads

    return events_emit(events.CUSTOMER_ADDED, lambda: payloads.customers_added(relation_ids))


def emit_customer_deleted(*, relation_id: int, status: str, at: datetime) -> int:
    """A relation ended; only deletions (by the customer or by the guide) are events."""
    from webhooks import payloads

    if status not in payloads.DELETED_BY:
        return 0
    return events_emit(
        events.CUSTOMER_DELETED, lambda: payloads.customer_deleted(relation_id, status, at)
    )


def emit_customer_tagged(
    *, relation_id: int, added: list[str], removed: list[str], at: datetime, source: str
) -> int:
    """Corp tags marked or unmarked on a relation; `source` is `wecom` (a guide in WeCom)
    or `platform` (the console, the API, the sidebar, rules, bulk jobs)."""
    from webhooks import payloads

    if not added and not removed:
        return 0
    return events_emit(
        events.CUSTOMER_TAGGED,
        lambda: payloads.customer_tagged(relation_id, added, removed, at, source),
    )


def emit_customers_transferred(*, item_ids: list[int]) -> int:
    """Handover items WeCom accepted: the customers now belong to the takeover guides."""
    from webhooks import payloads

    return events_emit(
        events.CUSTOMER_TRANSFERRED, lambda: payloads.customers_transferred(item_ids)
    )


def emit_handover_finished(*, handover_id: int) -> int:
    from webhooks import payloads

    return events_emit(events.HANDOVER_FINISHED, lambda: payloads.handover_finished(handover_id))


def emit_broadcast_finished(*, broadcast_id: int) -> int:
    from webhooks import payloads

    return events_emit(events.BROADCAST_FINISHED, lambda: payloads.broadcast_finished(broadcast_id))
