"""Reads of handovers for the console and the API: the departed guides' queue, handovers with
their counts per item status, a handover's items, and a customer's or a guide's transfers.

Counts per status come from one GROUP BY over the items of the handovers shown, so a list
page costs the same few queries whatever the number of handovers on it.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, F, Prefetch, QuerySet

from contacts.models import Guide
from handover.models import Handover, TransferItem
from handover.services import departed_guides_queue

FINAL_STATUSES = tuple(s for s in TransferItem.Status.values if s not in TransferItem.IN_FLIGHT)


def _guides_prefetch(name: str) -> Prefetch:
    return Prefetch(name, queryset=Guide.objects.order_by("pk"))


def departed_guide_queue() -> QuerySet[Guide]:
    """Departed guides still holding customers (`at_risk`) or group chats (`chats`), most at
    risk first."""
    queryset: QuerySet[Guide] = departed_guides_queue()
    return queryset.select_related("store").annotate(chats=F("chats_owned"))


def proposal_list() -> QuerySet[Handover]:
    """Proposed handovers (not started yet), oldest first, with their guides."""
    return (
        Handover.objects.filter(status=Handover.Status.PROPOSED)
        .prefetch_related(_guides_prefetch("from_guides"))
        .order_by("created_at", "pk")
    )


def handover_list(*, status: str = "", with_takers: bool = False) -> QuerySet[Handover]:
    """Handovers, newest first (keyset-ready: ordered by -created_at, -id), with the guides
    handed over (and the takers and store if asked)."""
    queryset = Handover.objects.prefetch_related(_guides_prefetch("from_guides")).order_by(
        "-created_at", "-id"
    )
    if with_takers:
        queryset = queryset.select_related("store").prefetch_related(_guides_prefetch("takers"))
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def handover_get(*, handover_id: int) -> Handover:
    return (
        Handover.objects.select_related("store")
        .prefetch_related(_guides_prefetch("from_guides"), _guides_prefetch("takers"))
        .get(pk=handover_id)
    )


def handover_item_counts(handover_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per handover: items per status (every status present, zeros too), `total` and
    `final` (items WeCom or the platform will not change any more)."""
    ids = list(handover_ids)
    counts: dict[int, dict[str, int]] = {
        pk: dict.fromkeys(TransferItem.Status.values, 0) for pk in ids
    }
    if not ids:
        return counts
    rows = (
        TransferItem.objects.filter(handover_id__in=ids)
        .order_by()
        .values_list("handover_id", "status")
        .annotate(n=Count("id"))
    )
    for handover_id, status, n in rows:
        counts[handover_id][status] = n
    for row in counts.values():
        row["total"] = sum(row[s] for s in TransferItem.Status.values)
        row["final"] = sum(row[s] for s in FINAL_STATUSES)
    return counts


def handover_target_counts(*, handover_id: int) -> dict[str, int]:
    """Customers and group chats in a handover."""
    counts: dict[str, int] = defaultdict(int)
    rows = (
        TransferItem.objects.filter(handover_id=handover_id)
        .order_by()
        .values_list("target")
        .annotate(n=Count("id"))
    )
    for target, n in rows:
        counts[target] = n
    return dict(counts)


def transfer_item_list(*, handover_id: int, statuses: Iterable[str] = ()) -> QuerySet[TransferItem]:
    """A handover's items in the order they were planned, with customer, chat and guides."""
    queryset = TransferItem.objects.filter(handover_id=handover_id)
    statuses = list(statuses)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    return queryset.select_related("customer", "chat", "from_guide", "to_guide").order_by("id")


def customer_transfer_list(*, customer_id: int, limit: int = 50) -> list[TransferItem]:
    """A customer's transfers, newest first."""
    return list(
        TransferItem.objects.filter(customer_id=customer_id)
        .select_related("handover", "from_guide", "to_guide")
        .order_by("-id")[:limit]
    )


def guide_handovers_out(*, guide_id: int, limit: int = 20) -> list[Handover]:
    """Handovers of this guide's customers, newest first."""
    return list(
        Handover.objects.filter(from_guides__id=guide_id).order_by("-created_at", "-id")[:limit]
    )


def guide_transfers_in(*, guide_id: int, limit: int = 50) -> list[TransferItem]:
    """Customers and chats handed over to this guide, newest first."""
    return list(
        TransferItem.objects.filter(to_guide_id=guide_id)
        .select_related("customer", "chat", "from_guide", "handover")
        .order_by("-id")[:limit]
    )


def handover_rows(handovers: list[Handover]) -> list[dict[str, Any]]:
    """Handovers with their counts per item status: one query for all of them."""
    counts = handover_item_counts(h.pk for h in handovers)
    return [{"handover": h, "counts": counts[h.pk]} for h in handovers]
