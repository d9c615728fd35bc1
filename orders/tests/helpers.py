"""Helpers of the orders tests."""

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from contacts.models import CustomerEvent
from orders.models import CustomEvent, Order


def push_order(client, key, **body):
    body.setdefault("amount", "199.00")
    body.setdefault("paid_at", "2024-03-01T10:00:00+08:00")
    return client.post("/api/v1/orders/", body, content_type="application/json", **key)


def push_event(client, key, **body):
    body.setdefault("type", "coupon_used")
    body.setdefault("occurred_at", "2024-03-02T09:30:00+08:00")
    return client.post("/api/v1/events/", body, content_type="application/json", **key)


def timeline_kinds(customer, schema="alpha") -> list[tuple[str, dict]]:
    with schema_context(schema):
        return list(
            CustomerEvent.objects.filter(customer=customer)
            .order_by("occurred_at", "id")
            .values_list("kind", "data")
        )


def counts(schema="alpha") -> tuple[int, int, int]:
    with schema_context(schema):
        return Order.objects.count(), CustomEvent.objects.count(), CustomerEvent.objects.count()


def ago(**delta):
    return timezone.now() - timedelta(**delta)
