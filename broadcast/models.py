"""Group sends (企业群发): one message to a segment of customers, sent by their guides.

A Broadcast is planned into one Delivery per customer (unique per broadcast and customer),
each with the guide who sends it or the reason it is not sent. Dispatch groups deliveries by
sender into chunks of at most WeCom's 10,000 recipients per message template; a chunk is
claimed with a conditional UPDATE before its template is created, and its msgid is saved
with the chunk's state. WeCom has no idempotency key: a chunk claimed but not recorded is
first looked for among the templates WeCom already has (same sender, time window, content
fingerprint and recipients) and adopted, never created twice.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

TEMPLATE_MAX_CUSTOMERS = 10_000  # WeCom: external_userid per add_msg_template
TEMPLATE_MAX_CHATS = 2_000  # WeCom: chat_id_list per add_msg_template
ATTACHMENTS_MAX = 9
TEXT_MAX_BYTES = 4000


class BroadcastSettings(models.Model):
    """The tenant's group-send settings (one row)."""

    class Cap(models.TextChoices):
        MONTH = "month", _("As many per month as the month has days")
        WEEK = "week", _("7 per week")
        DAY = "day", _("1 per day")

    # The rule the corp's admin chose in WeCom (群发助手 → 设置群发规则); the platform uses it
    # to predict who WeCom will skip, WeCom applies it.
    frequency_cap = models.CharField(
        _("WeCom's frequency rule"), max_length=8, choices=Cap.choices, default=Cap.MONTH
    )
    # Customers with any of these tags on any relation are never sent group messages.
    do_not_disturb_tag_ids = ArrayField(
        models.CharField(max_length=64), default=list, blank=True, verbose_name=_("do not disturb")
    )

    class Meta:
        verbose_name = _("group send settings")
        verbose_name_plural = _("group send settings")

    def __str__(self) -> str:
        return "group send settings"


class Broadcast(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PLANNING = "planning", _("Planning")
        READY = "ready", _("Planned, waiting for confirmation")
        SCHEDULED = "scheduled", pgettext_lazy("group send status", "Scheduled")
        DISPATCHING = "dispatching", _("Creating the messages in WeCom")
        WAITING = "waiting", _("Waiting for guides to send")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    class ChatType(models.TextChoices):
        SINGLE = "single", _("Customers")
        GROUP = "group", _("Customer group chats")

    class Audience(models.TextChoices):
        SEGMENT = "segment", _("A segment")
        CSV = "csv", _("A CSV file of customers")
        CUSTOMERS = "customers", _("Chosen customers")
        CHATS = "chats", _("Group chats")

    class SenderRule(models.TextChoices):
        RECENT = "recent", _("The guide who added the customer most recently")
        FIRST = "first", _("The guide who added the customer first")
        STORE = "store", _("A guide of the chosen store, else the most recent")

    name = models.CharField(_("name"), max_length=200)
    chat_type = models.CharField(max_length=8, choices=ChatType.choices, default=ChatType.SINGLE)
    text = models.TextField(_("text"), blank=True)
    # [{"kind": "image"|"link"|"miniprogram"|"video"|"file", ...}] as in welcome messages.
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    audience = models.CharField(max_length=16, choices=Audience.choices)
    segment = models.ForeignKey(
        "tagging.Segment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Explicit customers (external_userids) or chats (chat_ids), or the CSV's identifiers.
    audience_ids = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    sender_rule = models.CharField(
        max_length=8, choices=SenderRule.choices, default=SenderRule.RECENT
    )
    sender_store = models.ForeignKey(
        "contacts.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    send_at = models.DateTimeField(_("create the messages at"), null=True, blank=True)
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # sha256 of the content as WeCom stores it: finds our own template in WeCom's records.
    fingerprint = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    planned_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.CharField(max_length=150, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("group send")
        verbose_name_plural = _("group sends")
        indexes = [models.Index(fields=["status", "-created_at"], name="broadcast_status")]

    def __str__(self) -> str:
        return self.name


class Chunk(models.Model):
    """One message template: one sender, at most 10,000 recipients."""

    class Status(models.TextChoices):
        PENDING = "pending", _("To create")
        CLAIMED = "claimed", _("Being created")
        CREATED = "created", _("Created, waiting for the guide")
        SENT = "sent", _("Sent by the guide")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="chunks")
    sender = models.ForeignKey("contacts.Guide", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()  # per sender: 0, 1, ...
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    recipients = models.PositiveIntegerField(default=0)
    msgid = models.CharField(max_length=128, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_in_wecom_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reminders = ArrayField(models.DateTimeField(), default=list, blank=True)
    errcode = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast", "sender", "number"], name="broadcast_chunk_unique"
            )
        ]
        indexes = [models.Index(fields=["broadcast", "status"], name="broadcast_chunk_status")]

    def __str__(self) -> str:
        return f"{self.broadcast_id}/{self.sender_id}/{self.number} ({self.status})"


class Delivery(models.Model):
    """One customer's (or one group chat's) fate in a broadcast."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        NOT_CUSTOMER = "not_customer", _("Excluded: not a customer of the brand")
        NO_RELATION = "no_relation", _("Excluded: no guide holds them")
        OVER_CAP = "over_cap", _("Excluded: over WeCom's frequency rule (predicted)")
        DO_NOT_DISTURB = "dnd", _("Excluded: do not disturb")
        WAITING = "waiting", _("Waiting for the guide to send")
        SENT = "sent", _("Sent")
        NOT_FRIEND = "not_friend", _("Not sent: no longer a friend")
        CAPPED = "capped", _("Not sent: over WeCom's frequency rule")
        NOT_SENT = "not_sent", _("Not sent by the guide before the deadline")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    EXCLUDED = (Status.NOT_CUSTOMER, Status.NO_RELATION, Status.OVER_CAP, Status.DO_NOT_DISTURB)

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="deliveries")
    customer = models.ForeignKey(
        "contacts.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    chat = models.ForeignKey(
        "contacts.GroupChat", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target = models.CharField(max_length=64)  # external_userid or chat_id
    sender = models.ForeignKey(
        "contacts.Guide", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    chunk = models.ForeignKey(
        Chunk, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    sent_at = models.DateTimeField(null=True, blank=True)
    errcode = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "target"], name="delivery_unique")
        ]
        indexes = [
            models.Index(fields=["broadcast", "status", "id"], name="delivery_status"),
            models.Index(fields=["broadcast", "sender", "id"], name="delivery_sender"),
            models.Index(fields=["chunk", "target"], name="delivery_chunk"),
            models.Index(
                fields=["target", "sent_at"],
                name="delivery_sent",
                condition=models.Q(status__in=["sent", "waiting", "capped"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target} ({self.status})"

    @property
    def error_text(self) -> str:
        """The stored reason (English) in the reader's language; WeCom's meanings as they
        are."""
        known = DELIVERY_ERRORS.get(self.error)
        return str(known) if known is not None else self.error


NOT_A_CUSTOMER_IN_WECOM = "refused by WeCom (not a customer)"
DELIVERY_ERRORS = {NOT_A_CUSTOMER_IN_WECOM: _("refused by WeCom (not a customer)")}
