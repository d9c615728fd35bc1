"""Orders and custom events pushed by integrators (brand CRM, ERP, mall, e-commerce shops).

An order or event names its customer by external_userid, unionid or phone. It is stored
whether or not a customer matches; an unmatched one keeps the keys it came with and is matched
later, when the customer is added or a guide enters the phone as a remark phone number.
"""

from datetime import UTC, datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# When an order was paid or an event happened: from 2000 to a day ahead (clocks differ). An
# earlier date is a typo, and would not even print as a valid ISO 8601 time here.
EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_MARGIN = timedelta(days=1)


def plausible_moment(value: datetime) -> bool:
    return EARLIEST_MOMENT <= value <= timezone.now() + FUTURE_MARGIN


class MatchedBy(models.TextChoices):
    EXTERNAL_USERID = "external_userid", _("External userid")
    UNIONID = "unionid", _("Unionid")
    PHONE = "phone", _("Phone number")
    NONE = "none", _("Not matched")


class MatchProblem(models.TextChoices):
    NONE = "", _("None")
    NOT_FOUND = "not_found", _("No customer has this key yet")
    AMBIGUOUS_PHONE = "ambiguous_phone", _("The phone number belongs to several customers")
    AMBIGUOUS_UNIONID = "ambiguous_unionid", _("The unionid belongs to several customers")


class CustomerKeys(models.Model):
    """The customer keys an integrator gave, kept so that an unmatched row matches later."""

    external_userid = models.CharField(_("external userid"), max_length=64, blank=True)
    unionid = models.CharField(max_length=64, blank=True)
    # Normalised: digits only, without the +86 / 0086 prefix.
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    matched_by = models.CharField(
        _("matched by"), max_length=16, choices=MatchedBy.choices, default=MatchedBy.NONE
    )
    match_problem = models.CharField(
        max_length=24, choices=MatchProblem.choices, default=MatchProblem.NONE, blank=True
    )
    matched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Order(CustomerKeys):
    """An order, unique per (source, order_id): a second push updates it (a refund)."""

    class Status(models.TextChoices):
        PAID = "paid", _("Paid")
        REFUNDED = "refunded", _("Refunded")

    customer = models.ForeignKey(
        "contacts.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        db_index=False,  # the (customer, paid_at) index serves it
        verbose_name=_("customer"),
    )
    # The integrator's system ("erp", "tmall", "mini-program"); order ids are unique within it.
    source = models.CharField(_("source"), max_length=64, blank=True, default="")
    order_id = models.CharField(_("order id"), max_length=128)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    # [{"sku": "...", "name": "...", "quantity": 1, "price": "99.00"}, ...]
    items = models.JSONField(_("items"), default=list, blank=True)
    paid_at = models.DateTimeField(_("paid at"))
    store = models.ForeignKey(
        "contacts.Store",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("store"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PAID
    )
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # "order" alone is also a sort order (排序) in the catalogue
        verbose_name = pgettext_lazy("purchase", "order")
        verbose_name_plural = pgettext_lazy("purchase", "orders")
        constraints = [
            models.UniqueConstraint(fields=["source", "order_id"], name="order_source_order_id")
        ]
        indexes = [
            models.Index(fields=["customer", "paid_at"], name="order_customer_paid"),
            models.Index(fields=["-paid_at", "-id"], name="order_recent"),
            # The nightly re-match walks the unmatched rows only.
            models.Index(fields=["id"], name="order_unmatched", condition=Q(customer__isnull=True)),
            models.Index(
                fields=["external_userid"],
                name="order_unmatched_euid",
                condition=Q(customer__isnull=True) & ~Q(external_userid=""),
            ),
            models.Index(
                fields=["unionid"],
                name="order_unmatched_unionid",
                condition=Q(customer__isnull=True) & ~Q(unionid=""),
            ),
            models.Index(
                fields=["phone"],
                name="order_unmatched_phone",
                condition=Q(customer__isnull=True) & ~Q(phone=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.order_id}" if self.source else self.order_id


class CustomEvent(CustomerKeys):
    """Something a customer did elsewhere: `type` is the integrator's slug, e.g. `coupon_used`."""

    customer = models.ForeignKey(
        "contacts.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="custom_events",
        db_index=False,  # the (customer, occurred_at) index serves it
        verbose_name=_("customer"),
    )
    type = models.SlugField(_("type"), max_length=64)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    # Optional id from the integrator: a second push of the same id updates the event.
    event_id = models.CharField(_("event id"), max_length=128, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("custom event")
        verbose_name_plural = _("custom events")
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], condition=~Q(event_id=""), name="custom_event_event_id"
            )
        ]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="custom_event_customer_time"),
            models.Index(fields=["-occurred_at", "-id"], name="custom_event_recent"),
            models.Index(fields=["id"], name="event_unmatched", condition=Q(customer__isnull=True)),
            models.Index(
                fields=["external_userid"],
                name="event_unmatched_euid",
                condition=Q(customer__isnull=True) & ~Q(external_userid=""),
            ),
            models.Index(
                fields=["unionid"],
                name="event_unmatched_unionid",
                condition=Q(customer__isnull=True) & ~Q(unionid=""),
            ),
            models.Index(
                fields=["phone"],
                name="event_unmatched_phone",
                condition=Q(customer__isnull=True) & ~Q(phone=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class MatchState(models.Model):
    """The tenant's re-match progress (one row): the last timeline entry looked at.

    New customers and new remark phones all leave a timeline entry (added, edited), so the
    periodic re-match reads the entries after this id instead of scanning customers.
    """

    last_event_id = models.BigIntegerField(default=0)
    swept_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("re-match state")
        verbose_name_plural = _("re-match state")

    def __str__(self) -> str:
        return f"re-match after event {self.last_event_id}"


class OrderImport(models.Model):
    """A CSV of historical orders, imported by a worker.

    The worker first plans the file into one `OrderImportRow` per line (bad lines are marked
    invalid with their reason), then imports the valid rows in batches: each batch's orders
    and row outcomes commit together, so a row is never half-written and a killed worker's
    job resumes at the first pending row.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        FINISHED = "finished", pgettext_lazy("job status", "Finished")
        FAILED = "failed", _("Failed")

    file_name = models.CharField(_("file"), max_length=200, blank=True)
    # The decoded CSV text; emptied once the job has planned its rows.
    content = models.TextField(blank=True)
    # The source of rows that name none.
    source = models.CharField(_("source"), max_length=64, blank=True)
    # Orders whose customer is not found are refused instead of kept for later matching.
    require_match = models.BooleanField(_("reject rows whose customer is not found"), default=False)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    total = models.IntegerField(_("rows"), default=0)
    planned = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Held by the worker importing it; a killed worker's lease runs out and the job resumes.
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"order import #{self.pk} ({self.status})"


class OrderImportRow(models.Model):
    """One line of an imported CSV and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CREATED = "created", _("Imported")
        UPDATED = "updated", _("Updated an existing order")
        INVALID = "invalid", _("Invalid row")

    job = models.ForeignKey(
        OrderImport, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    line = models.IntegerField()  # the file's line number, the header being line 1
    order_id = models.CharField(max_length=128, blank=True)
    # The row's validated values, read by the import step.
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    matched_by = models.CharField(max_length=16, choices=MatchedBy.choices, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "line"], name="order_import_row_line")
        ]
        indexes = [models.Index(fields=["job", "status", "line"], name="order_import_row_work")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line} {self.status}"
