"""The `data` of each event type, built in a fixed number of queries whatever the number of
events (a handover reports thousands of transfers at once).

The shapes are documented in docs/webhooks.md and stable: fields may be added, never
renamed or removed. Customers and guides appear as the same small objects everywhere:
`{"id", "external_userid", "name", "unionid"}` and `{"id", "userid", "name"}`.
"""

from datetime import datetime
from typing import Any

from webhooks.emit import Occurrence
from webhooks.events import iso

CUSTOMER_FIELDS = (
    "customer_id",
    "customer__external_userid",
    "customer__name",
    "customer__unionid",
)
GUIDE_FIELDS = ("guide_id", "guide__userid", "guide__name")
# Relation status -> who ended the relation.
DELETED_BY = {"deleted_by_customer": "customer", "deleted_by_guide": "guide"}


def _customer(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["customer_id"],
        "external_userid": row["customer__external_userid"],
        "name": row["customer__name"],
        "unionid": row["customer__unionid"],
    }


def _guide(row: dict[str, Any], prefix: str = "guide") -> dict[str, Any] | None:
    if row[f"{prefix}_id"] is None:
        return None
    return {
        "id": row[f"{prefix}_id"],
        "userid": row[f"{prefix}__userid"],
        "name": row[f"{prefix}__name"],
    }


def _relations(relation_ids: list[int], *extra: str) -> list[dict[str, Any]]:
    from contacts.models import Relation

    return list(
        Relation.objects.filter(pk__in=relation_ids)
        .order_by("pk")
        .values("pk", *CUSTOMER_FIELDS, *GUIDE_FIELDS, *extra)
    )


def _channels(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Relation id -> its channel: the one attribution recorded, else the live code whose
    `state` brought it (attribution runs after the contact book in the callback's
    handlers, so a fresh add has no channel recorded yet)."""
    from channels_qr.models import Channel, LiveCode

    states = {row["state"] for row in rows if row["state"] and row["channel_id"] is None}
    by_state = (
        dict(LiveCode.objects.filter(state__in=states).values_list("state", "channel_id"))
        if states
        else {}
    )
    channel_of: dict[int, int] = {
        row["pk"]: row["channel_id"] or by_state[row["state"]]
        for row in rows
        if row["channel_id"] or row["state"] in by_state
    }
    names = dict(
        Channel.objects.filter(pk__in=set(channel_of.values())).values_list("pk", "name")
        if channel_of
        else []
    )
    return {
        relation_id: {"id": channel_id, "name": names.get(channel_id, "")}
        for relation_id, channel_id in channel_of.items()
    }


def customers_added(relation_ids: list[int]) -> list[Occurrence]:
    rows = _relations(relation_ids, "added_at", "add_way", "state", "channel_id")
    channels = _channels(rows)
    return [
        Occurrence(
            occurred_at=row["added_at"],
            data={
                "customer": _customer(row),
                "guide": _guide(row),
                "added_at": iso(row["added_at"]),
                "add_way": row["add_way"],
                "state": row["state"],
                "channel": channels.get(row["pk"]),
            },
            dedupe_key=f"customer.added:{row['pk']}:{int(row['added_at'].timestamp())}",
        )
        for row in rows
    ]


def customer_deleted(relation_id: int, status: str, at: datetime) -> list[Occurrence]:
    return [
        Occurrence(
            occurred_at=at,
            data={
                "customer": _customer(row),
                "guide": _guide(row),
                "by": DELETED_BY[status],
                "deleted_at": iso(at),
            },
            dedupe_key=f"customer.deleted:{row['pk']}:{int(at.timestamp())}",
        )
        for row in _relations([relation_id])
    ]


def customer_tagged(
    relation_id: int, added: list[str], removed: list[str], at: datetime, source: str
) -> list[Occurrence]:
    from tagging.models import Tag

    rows = _relations([relation_id], "wecom_tag_ids")
    if not rows:
        return []
    known = {
        tag_id: {"id": tag_id, "name": name, "group": group}
        for tag_id, name, group in Tag.objects.filter(tag_id__in={*added, *removed}).values_list(
            "tag_id", "name", "group__name"
        )
    }

    def tags(ids: list[str]) -> list[dict[str, str]]:
        """A tag deleted since is still named by its id."""
        return [known.get(t, {"id": t, "name": "", "group": ""}) for t in sorted(ids)]

    row = rows[0]
    return [
        Occurrence(
            occurred_at=at,
            data={
                "customer": _customer(row),
                "guide": _guide(row),
                "added": tags(added),
                "removed": tags(removed),
                "tag_ids": sorted(row["wecom_tag_ids"]),
                "source": source,
            },
        )
    ]


def customers_transferred(item_ids: list[int]) -> list[Occurrence]:
    from handover.models import TransferItem

    rows = (
        TransferItem.objects.filter(
            pk__in=item_ids, target=TransferItem.Target.CUSTOMER, customer__isnull=False
        )
        .order_by("pk")
        .values(
            "pk",
            "takeover_time",
            "handover_id",
            "handover__kind",
            *CUSTOMER_FIELDS,
            "from_guide_id",
            "from_guide__userid",
            "from_guide__name",
            "to_guide_id",
            "to_guide__userid",
            "to_guide__name",
        )
    )
    return [
        Occurrence(
            occurred_at=row["takeover_time"],
            data={
                "customer": _customer(row),
                "from_guide": _guide(row, "from_guide"),
                "to_guide": _guide(row, "to_guide"),
                "handover": {"id": row["handover_id"], "kind": row["handover__kind"]},
                "transferred_at": iso(row["takeover_time"]),
            },
            dedupe_key=f"customer.transferred:{row['pk']}",
        )
        for row in rows
        if row["takeover_time"] is not None
    ]


def handover_finished(handover_id: int) -> list[Occurrence]:
    from handover.models import Handover
    from handover.selectors import handover_item_counts

    handover = Handover.objects.filter(pk=handover_id).prefetch_related("from_guides").first()
    if handover is None or handover.finished_at is None:
        return []
    guides = sorted(handover.from_guides.all(), key=lambda g: g.pk)
    return [
        Occurrence(
            occurred_at=handover.finished_at,
            data={
                "id": handover.pk,
                "kind": handover.kind,
                "trigger": handover.trigger,
                "status": handover.status,
                "from_guides": [{"id": g.pk, "userid": g.userid, "name": g.name} for g in guides],
                "created_at": iso(handover.created_at),
                "started_at": iso(handover.started_at),
                "finished_at": iso(handover.finished_at),
                "counts": handover_item_counts([handover.pk])[handover.pk],
            },
            dedupe_key=f"handover.finished:{handover.pk}:{int(handover.finished_at.timestamp())}",
        )
    ]


def broadcast_finished(broadcast_id: int) -> list[Occurrence]:
    from broadcast.models import Broadcast
    from broadcast.planning import broadcast_counts

    broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
    if broadcast is None or broadcast.finished_at is None:
        return []
    return [
        Occurrence(
            occurred_at=broadcast.finished_at,
            data={
                "id": broadcast.pk,
                "name": broadcast.name,
                "status": broadcast.status,
                "chat_type": broadcast.chat_type,
                "created_at": iso(broadcast.created_at),
                "dispatched_at": iso(broadcast.dispatched_at),
                "finished_at": iso(broadcast.finished_at),
                "counts": broadcast_counts(broadcast),
                "error": broadcast.error,
            },
            dedupe_key=f"broadcast.finished:{broadcast.pk}",
        )
    ]
