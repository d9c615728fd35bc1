"""Customer lifecycle stages (客户生命周期): one stage per customer, derived from relations,
orders and interactions by rules the tenant tunes, and the count of each stage per day.

The stages are recomputed for every customer at once in SQL (lifecycle.stages), hourly and
after the rules change; a customer's row changes only when their stage does, and `since`
says when that was.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

STAGE = "lifecycle stage"  # the translation context of the stages' names


class Stage(models.TextChoices):
    NEW = "new", pgettext_lazy(STAGE, "New")
    ENGAGED = "engaged", pgettext_lazy(STAGE, "Engaged")
    FIRST_ORDER = "first_order", pgettext_lazy(STAGE, "First order")
    REPEAT = "repeat", pgettext_lazy(STAGE, "Repeat buyer")
    DORMANT = "dormant", pgettext_lazy(STAGE, "Dormant")
    LOST = "lost", pgettext_lazy(STAGE, "Lost")


# The funnel, in the order a customer moves through it; dormant and lost are the exits.
FUNNEL = (Stage.NEW, Stage.ENGAGED, Stage.FIRST_ORDER, Stage.REPEAT)
# Shown in this order everywhere (funnel first, then the exits).
DISPLAY_ORDER = (*FUNNEL, Stage.DORMANT, Stage.LOST)
# The rules are tried in this order; the first that holds gives the stage.
PRECEDENCE = (
    Stage.LOST,
    Stage.REPEAT,
    Stage.FIRST_ORDER,
    Stage.ENGAGED,
    Stage.NEW,
    Stage.DORMANT,
)


class LifecycleSettings(models.Model):
    """The tenant's stage rules (one row). Thresholds are in days, counted back from now."""

    new_days = models.PositiveSmallIntegerField(_("new: first added within (days)"), default=7)
    engaged_days = models.PositiveSmallIntegerField(
        _("engaged: an interaction within (days)"), default=30
    )
    order_days = models.PositiveSmallIntegerField(_("orders counted within (days)"), default=180)
    updated_at = models.DateTimeField(default=timezone.now)
    # The last recomputation: when it finished and what it took.
    recomputed_at = models.DateTimeField(null=True, blank=True)
    recompute_seconds = models.FloatField(null=True, blank=True)
    recompute_changed = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("lifecycle settings")
        verbose_name_plural = _("lifecycle settings")

    def __str__(self) -> str:
        return "lifecycle settings"


class CustomerStage(models.Model):
    """A customer's stage now, and since when it has been their stage."""

    customer = models.OneToOneField(
        "contacts.Customer",
        on_delete=models.CASCADE,
        related_name="lifecycle_stage",
        verbose_name=_("customer"),
    )
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices)
    since = models.DateTimeField(_("since"))

    class Meta:
        verbose_name = _("customer stage")
        verbose_name_plural = _("customer stages")
        indexes = [
            # A stage's customers, who entered it most recently first (keyset pages).
            models.Index(fields=["stage", "-since", "-id"], name="customer_stage_list"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.stage}"


class StageCount(models.Model):
    """How many customers were in a stage on a (local) day: the last count of that day."""

    day = models.DateField(_("day"))
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices)
    count = models.BigIntegerField(_("customers"), default=0)

    class Meta:
        verbose_name = _("stage count")
        verbose_name_plural = _("stage counts")
        constraints = [
            models.UniqueConstraint(fields=["day", "stage"], name="stage_count_day_stage")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.stage}: {self.count}"
