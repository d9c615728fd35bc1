"""Reads of orders, custom events and imports. Lists are ordered for keyset pages
(newest first, ending in -id) and read each page with its customer and store joined."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from orders.models import CustomEvent, Order, OrderImport, OrderImportRow


@dataclass
class OrderFilters:
    external_userid: str = ""  # the matched customer's
    customer_id: int | None = None
    matched: bool | None = None
    status: str = ""
    source: str = ""
    order_id: str = ""
    store_id: int | None = None
    paid_from: datetime | None = None
    paid_to: datetime | None = None


@dataclass
class EventFilters:
    external_userid: str = ""
    customer_id: int | None = None
    matched: bool | None = None
    type: str = ""
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def order_list(filters: OrderFilters | None = None) -> QuerySet[Order]:
    filters = filters or OrderFilters()
    orders = Order.objects.select_related("customer", "store")
    if filters.external_userid:
        orders = orders.filter(customer__external_userid=filters.external_userid)
    if filters.customer_id is not None:
        orders = orders.filter(customer_id=filters.customer_id)
    if filters.matched is not None:
        orders = orders.filter(customer__isnull=not filters.matched)
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.source:
        orders = orders.filter(source=filters.source)
    if filters.order_id:
        orders = orders.filter(order_id=filters.order_id)
    if filters.store_id is not None:
        orders = orders.filter(store_id=filters.store_id)
    if filters.paid_from is not None:
        orders = orders.filter(paid_at__gte=filters.paid_from)
    if filters.paid_to is not None:
        orders = orders.filter(paid_at__lte=filters.paid_to)
    return orders.order_by("-paid_at", "-id")


def order_get(*, order_id: int) -> Order:
    return Order.objects.select_related("customer", "store").get(pk=order_id)


def event_list(filters: EventFilters | None = None) -> QuerySet[CustomEvent]:
    filters = filters or EventFilters()
    events = CustomEvent.objects.select_related("customer")
    if filters.external_userid:
        events = events.filter(customer__external_userid=filters.external_userid)
    if filters.customer_id is not None:
        events = events.filter(customer_id=filters.customer_id)
    if filters.matched is not None:
        events = events.filter(customer__isnull=not filters.matched)
    if filters.type:
        events = events.filter(type=filters.type)
    if filters.occurred_from is not None:
        events = events.filter(occurred_at__gte=filters.occurred_from)
    if filters.occurred_to is not None:
        events = events.filter(occurred_at__lte=filters.occurred_to)
    return events.order_by("-occurred_at", "-id")


def event_get(*, event_id: int) -> CustomEvent:
    return CustomEvent.objects.select_related("customer").get(pk=event_id)


def import_list() -> QuerySet[OrderImport]:
    return OrderImport.objects.defer("content").order_by("-created_at", "-id")


def import_get(*, import_id: int) -> OrderImport:
    return OrderImport.objects.defer("content").get(pk=import_id)


def import_rows(
    *, import_id: int, statuses: list[str] | tuple[str, ...] = ()
) -> QuerySet[OrderImportRow]:
    rows = OrderImportRow.objects.filter(job_id=import_id)
    if statuses:
        rows = rows.filter(status__in=statuses)
    return rows.order_by("line", "id")
