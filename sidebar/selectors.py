"""Reads of the sidebar. Each is one query (or a fixed few), whatever the customer's history,
so the sidebar's first page costs the same for every customer."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Prefetch, Q

from contacts.models import Customer, CustomerEvent, Guide, Relation
from sidebar.auth import customer_relations_for
from sidebar.models import FollowUp, Note, QuickReply, QuickReplyFolder
from tagging.models import Tag

NOTES_SHOWN = 20
FOLLOW_UPS_SHOWN = 30
TIMELINE_PAGE = 10


@dataclass
class CustomerAccess:
    """A customer as one guide may see them: every active relation (guides holding them),
    the ones that give this guide access, and the guide's own relation, if any."""

    customer: Customer
    relations: list[Relation]
    visible_ids: set[int]
    own: Relation | None

    @property
    def visible(self) -> bool:
        return bool(self.visible_ids)

    @property
    def main(self) -> Relation | None:
        """The relation the card describes: the guide's own, else the first visible one."""
        if self.own is not None:
            return self.own
        return next((r for r in self.relations if r.pk in self.visible_ids), None)


def customer_access(*, guide: Guide, external_userid: str) -> CustomerAccess | None:
    """None when there is no such customer. Four queries: the customer, the scope setting,
    the relations giving access (the rule of `sidebar.auth.customer_relations_for`) and
    every active relation with its guide and channel."""
    customer = Customer.objects.filter(external_userid=external_userid).first()
    if customer is None:
        return None
    visible_ids = set(customer_relations_for(guide, customer.pk).values_list("pk", flat=True))
    relations = list(
        Relation.objects.filter(customer=customer, status=Relation.Status.ACTIVE)
        .select_related("guide", "channel")
        .order_by("added_at", "pk")
    )
    own = next((r for r in relations if r.guide_id == guide.pk), None)
    return CustomerAccess(customer, relations, visible_ids, own)


def tag_catalogue() -> list[dict[str, Any]]:
    """The corp's tags grouped as WeCom orders them (higher order first); one query."""
    groups: dict[int, dict[str, Any]] = {}
    tags = Tag.objects.select_related("group").order_by("-group__order", "group_id", "-order", "id")
    for tag in tags:
        group = groups.setdefault(
            tag.group_id, {"id": tag.group.group_id, "name": tag.group.name, "tags": []}
        )
        group["tags"].append({"id": tag.tag_id, "name": tag.name})
    return list(groups.values())


def notes_for(*, customer_id: int, limit: int = NOTES_SHOWN) -> list[Note]:
    return list(Note.objects.filter(customer_id=customer_id).order_by("-created_at", "-pk")[:limit])


def follow_ups_for(*, customer_id: int, limit: int = FOLLOW_UPS_SHOWN) -> list[FollowUp]:
    """Open ones first, soonest due first; then done ones, latest done first."""
    return list(
        FollowUp.objects.filter(customer_id=customer_id).order_by(
            F("done_at").desc(nulls_first=True), "due_at", "pk"
        )[:limit]
    )


def timeline_page(
    *, customer_id: int, before: tuple[datetime, int] | None = None, size: int = TIMELINE_PAGE
) -> tuple[list[CustomerEvent], bool]:
    """A page of the customer's timeline, newest first, after the keyset `before`
    (occurred_at, id); and whether older entries remain."""
    events = CustomerEvent.objects.filter(customer_id=customer_id).select_related("guide")
    if before is not None:
        at, pk = before
        events = events.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, pk__lt=pk))
    rows = list(events.order_by("-occurred_at", "-pk")[: size + 1])
    return rows[:size], len(rows) > size


def quick_reply_library() -> list[QuickReplyFolder]:
    """Folders with their replies (each folder's `replies_list`); two queries."""
    return list(
        QuickReplyFolder.objects.prefetch_related(
            Prefetch(
                "replies",
                queryset=QuickReply.objects.select_related("media").order_by("order", "pk"),
                to_attr="replies_list",
            )
        ).order_by("order", "pk")
    )


@dataclass
class CustomerPanel:
    """What the console's customer page shows of the sidebar."""

    notes: list[Note]
    follow_ups: list[FollowUp]


def customer_panel(*, customer_id: int) -> CustomerPanel:
    return CustomerPanel(
        notes=notes_for(customer_id=customer_id),
        follow_ups=follow_ups_for(customer_id=customer_id),
    )
