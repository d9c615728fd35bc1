"""Reads of group sends for the console and the API: lists, a broadcast's progress, its
message templates per guide and its per-customer results (a page, or all of them for a
CSV)."""

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Q, QuerySet

from broadcast.models import Broadcast, Chunk, Delivery

# A delivery in one of these has its last word: WeCom's result, the deadline, a cancel.
FINAL_DELIVERY = (
    Delivery.Status.SENT,
    Delivery.Status.NOT_FRIEND,
    Delivery.Status.CAPPED,
    Delivery.Status.NOT_SENT,
    Delivery.Status.CANCELLED,
    Delivery.Status.FAILED,
)
# A chunk in one of these is no longer waiting to be created in WeCom.
CHUNK_DONE = (
    Chunk.Status.CREATED,
    Chunk.Status.SENT,
    Chunk.Status.CANCELLED,
    Chunk.Status.FAILED,
)
# Statuses whose page changes by itself (planning, dispatching, results coming in).
LIVE_STATUSES = (
    Broadcast.Status.PLANNING,
    Broadcast.Status.SCHEDULED,
    Broadcast.Status.DISPATCHING,
    Broadcast.Status.WAITING,
)
# The plan's outcomes shown before confirming, in this order.
PLAN_STATUSES = (
    Delivery.Status.PLANNED,
    Delivery.Status.NO_RELATION,
    Delivery.Status.DO_NOT_DISTURB,
    Delivery.Status.OVER_CAP,
)


def broadcast_list(*, status: str | None = None) -> QuerySet[Broadcast]:
    """Newest first; the counts come with each row (`Broadcast.counts`), no query per row."""
    broadcasts = Broadcast.objects.select_related("segment").order_by("-created_at", "-id")
    if status:
        broadcasts = broadcasts.filter(status=status)
    return broadcasts


def broadcast_get(*, broadcast_id: int) -> Broadcast:
    """Raises Broadcast.DoesNotExist."""
    return Broadcast.objects.select_related("segment", "sender_store").get(pk=broadcast_id)


def broadcast_progress(broadcast: Broadcast) -> dict[str, Any]:
    """Where the group send stands, in two queries.

    While the templates are created (`dispatching`): templates created / templates in all.
    Afterwards: deliveries with a final result / deliveries handed to the guides. `counts`
    are the deliveries per status now (fresher than `Broadcast.counts` while dispatching).
    """
    chunks = Chunk.objects.filter(broadcast=broadcast).aggregate(
        total=Count("id"), created=Count("id", filter=Q(status__in=CHUNK_DONE))
    )
    counts = dict(
        Delivery.objects.filter(broadcast=broadcast)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    excluded = sum(counts.get(s, 0) for s in Delivery.EXCLUDED)
    handed = sum(counts.values()) - excluded
    final = sum(counts.get(s, 0) for s in FINAL_DELIVERY)
    if broadcast.status == Broadcast.Status.DISPATCHING or (
        broadcast.status in (Broadcast.Status.READY, Broadcast.Status.SCHEDULED)
    ):
        phase, done, total = "templates", chunks["created"], chunks["total"]
    else:
        phase, done, total = "results", final, handed
    finished = broadcast.status in (
        Broadcast.Status.DONE,
        Broadcast.Status.CANCELLED,
        Broadcast.Status.FAILED,
    )
    percent = round(100 * done / total, 1) if total else 100.0 if finished else 0.0
    return {
        "id": broadcast.pk,
        "status": broadcast.status,
        "status_display": str(broadcast.get_status_display()),
        "live": broadcast.status in LIVE_STATUSES,
        "phase": phase,
        "done": done,
        "total": total,
        "percent": percent,
        "chunks_total": chunks["total"],
        "chunks_created": chunks["created"],
        "deliveries_handed": handed,
        "deliveries_final": final,
        "counts": counts,
    }


def chunk_list(*, broadcast: Broadcast) -> QuerySet[Chunk]:
    """The broadcast's message templates, one guide after another."""
    return (
        Chunk.objects.filter(broadcast=broadcast)
        .select_related("sender")
        .order_by("sender__name", "sender_id", "number")
    )


def delivery_list(*, broadcast: Broadcast, status: str | None = None) -> QuerySet[Delivery]:
    """The per-customer results, newest row first (keyset-paginated by -id)."""
    deliveries = (
        Delivery.objects.filter(broadcast=broadcast)
        .select_related("customer", "chat", "sender")
        .order_by("-id")
    )
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries


def delivery_export(*, broadcast: Broadcast, batch: int = 2000) -> Iterator[Delivery]:
    """Every delivery of the broadcast in planning order, read in batches (for a streamed
    CSV of any size)."""
    after = 0
    while True:
        rows = list(
            Delivery.objects.filter(broadcast=broadcast, id__gt=after)
            .select_related("customer", "chat", "sender")
            .order_by("id")[:batch]
        )
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].pk
