"""Outbound webhooks: the brand's endpoints, the events they subscribe to, and every attempt
to deliver one.

An `Event` is stored once, in the transaction of the change it reports, and only when an
enabled endpoint of the tenant subscribes to its type; it gets one `Delivery` per such
endpoint (unique per event and endpoint), claimed by a worker with a conditional UPDATE
and a lease, and one `Attempt` row per HTTP request. A delivery whose worker died is queued
again when its lease runs out, so a delivery is never lost but may arrive twice
(at-least-once: receivers deduplicate by the event id).
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.encryption import EncryptedTextField

EVENT_TYPE_MAX = 40


class Endpoint(models.Model):
    """A URL of the brand's systems that receives signed events."""

    class DisabledBy(models.TextChoices):
        FAILURES = "failures", _("Disabled automatically after repeated failures")
        OPERATOR = "operator", _("Disabled by an operator")

    url = models.URLField(_("URL"), max_length=500)
    secret = EncryptedTextField(_("signing secret"))
    # After a rotation, events are signed with this one too until `previous_secret_until`,
    # so receivers can switch over without refusing anything.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    event_types = ArrayField(models.CharField(max_length=EVENT_TYPE_MAX), verbose_name=_("events"))
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_by = models.CharField(max_length=16, choices=DisabledBy.choices, blank=True)
    # Deliveries in a row that used up their retries; a success sets it back to 0.
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self) -> list[str]:
        """The secrets each request is signed with: the current one, and the previous one
        while its grace period after a rotation lasts."""
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_until is not None
            and self.previous_secret_until > timezone.now()
        ):
            secrets.append(self.previous_secret)
        return secrets


class Event(models.Model):
    """Something that happened, as sent to endpoints (the body's `data`)."""

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=EVENT_TYPE_MAX)
    occurred_at = models.DateTimeField()
    data = models.JSONField(default=dict)
    # One event per occurrence even when the code reporting it runs twice (a retried
    # callback handler, a re-applied transfer result).
    dedupe_key = models.CharField(max_length=160, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        indexes = [models.Index(fields=["created_at"], name="webhook_event_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"

    @property
    def public_id(self) -> str:
        return f"evt_{self.event_id.hex}"


class Delivery(models.Model):
    """One event to one endpoint, through its attempts until it succeeds or gives up."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Sending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed (retries used up)")
        CANCELLED = "cancelled", _("Cancelled (endpoint disabled)")

    class Trigger(models.TextChoices):
        EVENT = "event", _("Event")
        REDELIVERY = "redelivery", _("Manual redelivery")
        TEST = "test", _("Test event")

    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.EVENT)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Held by the worker sending it; a killed worker's delivery is queued again after it.
    lease_until = models.DateTimeField(null=True, blank=True)
    # When a task for it was last queued (the periodic job does not queue it again soon).
    queued_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(trigger="event"),
                name="webhook_delivery_once",
            )
        ]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_endpoint"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(
                fields=["lease_until"],
                condition=Q(status="sending"),
                name="webhook_delivery_leased",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery #{self.pk} ({self.status})"


class Attempt(models.Model):
    """One HTTP request of a delivery, and what came back."""

    class Failure(models.TextChoices):
        HTTP = "http", _("The receiver answered with an error status")
        TIMEOUT = "timeout", _("Timed out")
        CONNECTION = "connection", _("Could not connect")
        TLS = "tls", _("TLS/certificate error")
        REFUSED_TARGET = "refused_target", _("Refused: the address is not public")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    status_code = models.IntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    failure = models.CharField(max_length=16, choices=Failure.choices, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery #{self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return not self.failure
