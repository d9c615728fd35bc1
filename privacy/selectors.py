"""Reads of the privacy app: one customer's data as one JSON document (个人信息导出), and the
numbers the privacy page shows.

The export holds everything the platform keeps about the customer, each part read by one
query whatever its size (at most 15 queries in all), so a customer with thousands of timeline
entries costs the same number of queries as a new one.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from broadcast.models import Delivery
from channels_qr.models import WelcomeLog
from contacts.api.serializers import mask_phones_in
from contacts.models import Customer, CustomerEvent, GroupChatMember, Relation
from contacts.privacy import mask_phone
from handover.models import TransferItem
from lifecycle.models import CustomerStage
from orders.models import CustomEvent, Order
from privacy.erasure import erased_customers
from privacy.models import ErasedContact, PrivacySettings
from scrm.wecom.models import CallbackEvent
from sidebar.models import FollowUp, Note
from tagging.models import Tag
from webhooks.models import Event

EXPORT_FORMAT = "scrm.customer-export/1"


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def _guide(guide: Any) -> dict[str, Any] | None:
    if guide is None:
        return None
    return {"id": guide.pk, "userid": guide.userid, "name": guide.name}


class _Phones:
    def __init__(self, *, full: bool) -> None:
        self.full = full

    def one(self, phone: str) -> str:
        return phone if self.full or not phone else mask_phone(phone)

    def many(self, phones: list[str]) -> list[str]:
        return [self.one(phone) for phone in phones or []]

    def within(self, data: Any) -> Any:
        return data if self.full else mask_phones_in(data)


def _keys(row: Order | CustomEvent, phones: _Phones) -> dict[str, Any]:
    return {
        "external_userid": row.external_userid,
        "unionid": row.unionid,
        "phone": phones.one(row.phone),
        "matched_by": row.matched_by,
        "matched_at": _iso(row.matched_at),
    }


def _relations(customer: Customer, phones: _Phones) -> list[dict[str, Any]]:
    relations = list(
        Relation.objects.filter(customer=customer)
        .select_related("guide__store", "channel")
        .order_by("-added_at", "-id")
    )
    tag_ids = {tag_id for relation in relations for tag_id in relation.wecom_tag_ids}
    tags = {
        tag.tag_id: tag
        for tag in (
            Tag.objects.filter(tag_id__in=tag_ids).select_related("group") if tag_ids else []
        )
    }
    return [
        {
            "id": r.pk,
            "guide": {
                **(_guide(r.guide) or {}),
                "store": r.guide.store.name if r.guide.store else None,
            },
            "remark": r.remark,
            "description": r.description,
            "remark_corp_name": r.remark_corp_name,
            "remark_mobiles": phones.many(r.remark_mobiles),
            "add_way": r.add_way,
            "add_way_label": str(r.get_add_way_display()),
            "state": r.state,
            "channel": {"id": r.channel.pk, "name": r.channel.name} if r.channel else None,
            "tags": [
                {
                    "id": tag_id,
                    "name": tags[tag_id].name if tag_id in tags else "",
                    "group": tags[tag_id].group.name if tag_id in tags else "",
                }
                for tag_id in r.wecom_tag_ids
            ],
            "added_at": _iso(r.added_at),
            "status": r.status,
            "status_changed_at": _iso(r.status_changed_at),
            "deleted_at": _iso(r.deleted_at),
        }
        for r in relations
    ]


def customer_export(*, customer: Customer, full_phones: bool) -> dict[str, Any]:
    """Everything the platform holds about `customer`, as one JSON-ready document. Phone
    numbers are masked (138****5678) unless `full_phones`."""
    phones = _Phones(full=full_phones)
    stage = CustomerStage.objects.filter(customer=customer).first()
    timeline = (
        CustomerEvent.objects.filter(customer=customer)
        .select_related("guide")
        .order_by("occurred_at", "id")
    )
    members = (
        GroupChatMember.objects.filter(
            Q(customer=customer)
            | Q(kind=GroupChatMember.Kind.CUSTOMER, userid=customer.external_userid)
        )
        .select_related("chat")
        .order_by("chat_id")
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(timezone.now()),
        "phones_masked": not full_phones,
        "customer": {
            "id": customer.pk,
            "external_userid": customer.external_userid,
            "name": customer.name,
            "avatar": customer.avatar,
            "type": customer.type,
            "gender": customer.gender,
            "unionid": customer.unionid,
            "corp_name": customer.corp_name,
            "position": customer.position,
            "created_at": _iso(customer.created_at),
            "last_added_at": _iso(customer.last_added_at),
            "erased": Customer.objects.filter(erased_customers(), pk=customer.pk).exists(),
        },
        "relations": _relations(customer, phones),
        "lifecycle_stage": (
            {"stage": stage.stage, "since": _iso(stage.since)} if stage is not None else None
        ),
        "timeline": [
            {
                "id": event.pk,
                "kind": event.kind,
                "occurred_at": _iso(event.occurred_at),
                "guide": _guide(event.guide),
                "data": phones.within(event.data),
            }
            for event in timeline
        ],
        "notes": [
            {
                "id": note.pk,
                "text": note.text,
                "author": note.author,
                "guide_id": note.guide_id,
                "created_at": _iso(note.created_at),
            }
            for note in Note.objects.filter(customer=customer).order_by("created_at", "id")
        ],
        "follow_ups": [
            {
                "id": item.pk,
                "title": item.title,
                "due_at": _iso(item.due_at),
                "done_at": _iso(item.done_at),
                "done_by": item.done_by,
                "created_by": item.created_by,
                "guide_id": item.guide_id,
                "created_at": _iso(item.created_at),
            }
            for item in FollowUp.objects.filter(customer=customer).order_by("created_at", "id")
        ],
        "orders": [
            {
                "id": order.pk,
                "source": order.source,
                "order_id": order.order_id,
                "amount": str(Decimal(order.amount)),
                "items": order.items,
                "paid_at": _iso(order.paid_at),
                "status": order.status,
                "refunded_at": _iso(order.refunded_at),
                "store": order.store.name if order.store else None,
                "keys": _keys(order, phones),
                "created_at": _iso(order.created_at),
            }
            for order in Order.objects.filter(customer=customer)
            .select_related("store")
            .order_by("paid_at", "id")
        ],
        "custom_events": [
            {
                "id": event.pk,
                "type": event.type,
                "event_id": event.event_id,
                "properties": phones.within(event.properties),
                "occurred_at": _iso(event.occurred_at),
                "keys": _keys(event, phones),
                "created_at": _iso(event.created_at),
            }
            for event in CustomEvent.objects.filter(customer=customer).order_by("occurred_at", "id")
        ],
        "group_sends": [
            {
                "broadcast": {
                    "id": delivery.broadcast.pk,
                    "name": delivery.broadcast.name,
                    "text": delivery.broadcast.text,
                    "created_at": _iso(delivery.broadcast.created_at),
                },
                "sender": _guide(delivery.sender),
                "status": delivery.status,
                "sent_at": _iso(delivery.sent_at),
            }
            for delivery in Delivery.objects.filter(customer=customer)
            .select_related("broadcast", "sender")
            .order_by("broadcast_id")
        ],
        "handovers": [
            {
                "handover": {"id": item.handover.pk, "kind": item.handover.kind},
                "from_guide": _guide(item.from_guide),
                "to_guide": _guide(item.to_guide),
                "status": item.status,
                "sent_at": _iso(item.sent_at),
                "takeover_time": _iso(item.takeover_time),
                "finished_at": _iso(item.finished_at),
            }
            for item in TransferItem.objects.filter(customer=customer)
            .select_related("handover", "from_guide", "to_guide")
            .order_by("id")
        ],
        "group_chats": [
            {
                "chat": {
                    "id": member.chat.pk,
                    "chat_id": member.chat.chat_id,
                    "name": member.chat.name,
                },
                "name": member.name,
                "group_nickname": member.group_nickname,
                "unionid": member.unionid,
                "join_time": _iso(member.join_time),
                "join_scene": member.join_scene,
            }
            for member in members
        ],
        "welcome_messages": [
            {
                "guide_userid": log.userid,
                "state": log.state,
                "outcome": log.outcome,
                "event_at": _iso(log.event_at),
            }
            for log in WelcomeLog.objects.filter(external_userid=customer.external_userid).order_by(
                "event_at", "id"
            )
        ],
        "webhook_events": [
            {
                "id": event.public_id,
                "type": event.type,
                "occurred_at": _iso(event.occurred_at),
                "data": event.data,
            }
            for event in Event.objects.filter(data__customer__id=customer.pk).order_by("id")
        ],
        "wecom_callbacks": [
            {
                "id": callback.pk,
                "event": callback.event,
                "change_type": callback.change_type,
                "create_time": _iso(callback.create_time),
                "received_at": _iso(callback.received_at),
                "payload": callback.payload,
            }
            for callback in CallbackEvent.objects.filter(
                payload__ExternalUserID=customer.external_userid
            ).order_by("id")
        ],
    }


def export_file_name(customer: Customer) -> str:
    return f"customer-{customer.pk}-{timezone.localtime():%Y%m%d-%H%M}.json"


@dataclass(frozen=True)
class ErasureImpact:
    """What an erasure of this customer would touch, for the confirmation page."""

    relations: int
    active_relations: list[Relation]
    timeline: int
    notes: int
    follow_ups: int
    orders: int
    custom_events: int
    deliveries: int
    transfers: int


def erasure_impact(*, customer: Customer) -> ErasureImpact:
    relations = list(
        Relation.objects.filter(customer=customer).select_related("guide").order_by("id")
    )

    def count_of(queryset: Any) -> Any:
        return Coalesce(
            Subquery(
                queryset.filter(customer_id=OuterRef("pk"))
                .order_by()
                .values("customer_id")
                .annotate(n=Count("pk"))
                .values("n")[:1]
            ),
            0,
        )

    # One row: each count a subquery of the customer's.
    row = (
        Customer.objects.filter(pk=customer.pk)
        .values("pk")
        .annotate(
            n_timeline=count_of(CustomerEvent.objects.all()),
            n_notes=count_of(Note.objects.all()),
            n_follow_ups=count_of(FollowUp.objects.all()),
            n_orders=count_of(Order.objects.all()),
            n_custom_events=count_of(CustomEvent.objects.all()),
            n_deliveries=count_of(Delivery.objects.all()),
            n_transfers=count_of(TransferItem.objects.all()),
        )
        .get()
    )
    return ErasureImpact(
        relations=len(relations),
        active_relations=[r for r in relations if r.status == Relation.Status.ACTIVE],
        timeline=row["n_timeline"],
        notes=row["n_notes"],
        follow_ups=row["n_follow_ups"],
        orders=row["n_orders"],
        custom_events=row["n_custom_events"],
        deliveries=row["n_deliveries"],
        transfers=row["n_transfers"],
    )


@dataclass(frozen=True)
class PrivacyOverview:
    settings: PrivacySettings
    erased_on_request: int
    erased_by_retention: int


def privacy_overview(*, options: PrivacySettings) -> PrivacyOverview:
    # Customers who came back after their erasure (privacy.erased.erased_readmit) are not
    # counted any more.
    counts = dict.fromkeys(ErasedContact.Reason.values, 0)
    for reason, n in ErasedContact.objects.values_list("reason").annotate(n=Count("pk")):
        counts[reason] = n
    return PrivacyOverview(
        settings=options,
        erased_on_request=counts[ErasedContact.Reason.REQUEST],
        erased_by_retention=counts[ErasedContact.Reason.RETENTION],
    )
