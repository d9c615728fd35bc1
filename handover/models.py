"""Handover (离职继承 / 在职继承): a guide's customers and group chats moved to colleagues.

A Handover is a job with one TransferItem per customer (and per group chat) of the guides
handed over. Items are sent to WeCom in batches of 100 under a claim (a conditional UPDATE),
then WeCom's results are polled until every item is final. A claimed batch whose worker died
is looked up in WeCom's results before anything is sent again, so no customer is sent twice.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class HandoverSettings(models.Model):
    """The tenant's handover settings (one row)."""

    auto_start = models.BooleanField(
        _("start handovers of departed guides automatically"), default=False
    )
    grace_hours = models.PositiveIntegerField(
        _("grace period before an automatic start (hours)"), default=24
    )
    # The taker's total active customers may not go over this (empty: no maximum).
    max_per_guide = models.PositiveIntegerField(
        _("maximum customers per takeover guide"), null=True, blank=True
    )
    onjob_message = models.CharField(
        _("message to customers of an on-duty transfer"),
        max_length=200,
        blank=True,
        default="您好，为了更好地为您服务，后续将由我的同事继续为您服务，请放心。",
    )
    unassigned_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("handover settings")
        verbose_name_plural = _("handover settings")

    def __str__(self) -> str:
        return "handover settings"


class Handover(models.Model):
    class Kind(models.TextChoices):
        RESIGNED = "resigned", _("Resigned transfer (离职继承)")
        ON_DUTY = "on_duty", _("On-duty transfer (在职继承)")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        SENDING = "sending", _("Sending to WeCom")
        WAITING = "waiting", _("Waiting for WeCom's results")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    class Mode(models.TextChoices):
        ONE = "one", _("All to one guide")
        EVEN_STORE = "even_store", _("Evenly among the guides of their own store")
        EVEN_CHOSEN_STORE = "even_chosen_store", _("Evenly among the guides of a chosen store")
        EVEN_LIST = "even_list", _("Evenly among chosen guides")
        CSV = "csv", _("By a CSV file: customer → guide")

    class Trigger(models.TextChoices):
        CALLBACK = "callback", _("Member deleted in WeCom")
        UNASSIGNED = "unassigned", _("Found in WeCom's unassigned list")
        OPERATOR = "operator", _("Started by an operator")
        API = "api", _("Started through the API")

    OPEN_STATUSES = (Status.PROPOSED, Status.SENDING, Status.WAITING)

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PROPOSED
    )
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    from_guides = models.ManyToManyField(
        "contacts.Guide", related_name="handovers_out", verbose_name=_("handed over")
    )
    mode = models.CharField(_("allocation"), max_length=24, choices=Mode.choices, blank=True)
    takers = models.ManyToManyField(
        "contacts.Guide", blank=True, related_name="+", verbose_name=_("takeover guides")
    )
    store = models.ForeignKey(
        "contacts.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    max_per_guide = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(_("message to the customer"), max_length=200, blank=True)
    include_chats = models.BooleanField(_("group chats too"), default=True)
    # A proposal started automatically at this time (the tenant's grace period).
    start_after = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Held by the worker sending it; a killed worker's lease runs out and the job resumes.
    lease_until = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("handover")
        verbose_name_plural = _("handovers")
        indexes = [models.Index(fields=["status", "-created_at"], name="handover_status")]

    def __str__(self) -> str:
        return f"handover #{self.pk} ({self.status})"


class TransferItem(models.Model):
    """One customer (or group chat) of one handed-over guide, and its fate."""

    class Target(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        CHAT = "chat", _("Group chat")

    class Status(models.TextChoices):
        PENDING = "pending", _("To send")
        SENDING = "sending", _("Sending")
        WAITING = "waiting", _("Waiting for takeover")
        ACCEPTED = "accepted", _("Taken over")
        REFUSED = "refused", _("Refused by the customer (stays with the guide)")
        LOST = "lost", _("Refused by the customer (lost)")
        TAKER_FULL = "taker_full", _("Takeover guide has too many customers")
        SKIPPED = "skipped", _("Not sent: transferred twice in 90 days")
        UNALLOCATED = "unallocated", _("No takeover guide")
        FAILED = "failed", _("Failed")
        GONE = "gone", _("No longer a customer")
        CANCELLED = "cancelled", _("Cancelled")

    IN_FLIGHT = (Status.PENDING, Status.SENDING, Status.WAITING)
    # Failed for a reason another takeover guide can fix: re-allocatable in one action.
    REALLOCATABLE = (Status.TAKER_FULL, Status.UNALLOCATED, Status.FAILED)

    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="items")
    target = models.CharField(max_length=8, choices=Target.choices, default=Target.CUSTOMER)
    customer = models.ForeignKey(
        "contacts.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="transfer_items",
    )
    chat = models.ForeignKey(
        "contacts.GroupChat", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # external_userid or chat_id: what WeCom is called with.
    external_id = models.CharField(max_length=64)
    from_guide = models.ForeignKey(
        "contacts.Guide", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    to_guide = models.ForeignKey(
        "contacts.Guide",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers_in",
        db_index=False,
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    batch = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    takeover_time = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    errcode = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    # Earlier takeover guides of a re-allocated item, with what happened.
    history = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("transfer item")
        verbose_name_plural = _("transfer items")
        constraints = [
            models.UniqueConstraint(
                fields=["handover", "target", "from_guide", "external_id"],
                name="transfer_item_unique",
            ),
            # One transfer in flight per customer of a guide, whatever the handover.
            models.UniqueConstraint(
                fields=["target", "from_guide", "external_id"],
                condition=Q(status__in=["pending", "sending", "waiting"]),
                name="transfer_item_one_in_flight",
            ),
        ]
        indexes = [
            models.Index(fields=["handover", "status", "id"], name="transfer_item_status"),
            models.Index(fields=["customer", "-id"], name="transfer_item_customer"),
            models.Index(fields=["to_guide", "-id"], name="transfer_item_taker"),
            models.Index(fields=["from_guide", "-id"], name="transfer_item_giver"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.status})"
