"""Pre-aggregated daily numbers of the operator dashboard (console home).

Each row counts relations by what happened to them on one local day (Asia/Shanghai): added
(`adds`), taken over from a colleague in a handover (`transferred_in`), deleted by the
customer, deleted by the guide, found gone by a full sync (`vanished`), handed over to a
colleague (`transferred_out`). Three grains serve the page:

- StoreDay (day x store): the growth chart and its totals;
- ChannelDay (day x store x channel) and ChannelMonth: the top channels;
- GuideDay (day x guide, with the guide's store) and GuideMonth (month x guide x store): the
  guide rankings.

The month tables sum the day tables' rows of each calendar month (the current one up to
today), so that a long range reads a row per guide per month and days only at its edges.

The store is the guide's store when the day was last refreshed; NULL for guides without
one. Rows are rebuilt per day from the relations by dashboard.aggregates (today's and
yesterday's every few minutes); the page reads only these tables. Dimension keys carry no
foreign-key constraint: history outlives a deleted store or channel.
"""

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

COUNTS = [
    "adds",
    "transferred_in",
    "deleted_by_customer",
    "deleted_by_guide",
    "vanished",
    "transferred_out",
]


class DayCounts(models.Model):
    day = models.DateField(_("day"))
    adds = models.PositiveIntegerField(_("adds"), default=0)
    transferred_in = models.PositiveIntegerField(_("taken over"), default=0)
    deleted_by_customer = models.PositiveIntegerField(_("deleted by the customer"), default=0)
    deleted_by_guide = models.PositiveIntegerField(_("deleted by the guide"), default=0)
    vanished = models.PositiveIntegerField(_("gone (found by sync)"), default=0)
    transferred_out = models.PositiveIntegerField(_("handed over to a colleague"), default=0)

    class Meta:
        abstract = True


def _dimension(model: str, verbose_name: Any, *, null: bool = True) -> models.ForeignKey:
    return models.ForeignKey(
        model,
        null=null,
        blank=null,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        verbose_name=verbose_name,
    )


class StoreDay(DayCounts):
    store = _dimension("contacts.Store", _("store"))

    class Meta:
        verbose_name = _("daily numbers per store")
        verbose_name_plural = _("daily numbers per store")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "store"], nulls_distinct=False, name="dashboard_store_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} store {self.store_id}"


class ChannelDay(DayCounts):
    store = _dimension("contacts.Store", _("store"))
    channel = _dimension("channels_qr.Channel", _("channel"), null=False)

    class Meta:
        verbose_name = _("daily numbers per channel")
        verbose_name_plural = _("daily numbers per channel")
        constraints = [
            # Covering: a range of days is summed from the index alone.
            models.UniqueConstraint(
                fields=["day", "store", "channel"],
                include=COUNTS,
                nulls_distinct=False,
                name="dashboard_channel_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} store {self.store_id} channel {self.channel_id}"


class GuideDay(DayCounts):
    guide = _dimension("contacts.Guide", _("guide"), null=False)
    store = _dimension("contacts.Store", _("store"))

    class Meta:
        verbose_name = _("daily numbers per guide")
        verbose_name_plural = _("daily numbers per guide")
        # Covering: the rankings sum a range of days (of a store) from an index alone.
        constraints = [
            models.UniqueConstraint(
                fields=["day", "guide"], include=["store", *COUNTS], name="dashboard_guide_day"
            )
        ]
        indexes = [
            models.Index(
                fields=["store", "day"],
                include=["guide", *COUNTS],
                name="dashboard_guide_day_store",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} guide {self.guide_id}"


class ChannelMonth(DayCounts):
    """ChannelDay's rows of a calendar month added up (`day`: the month's first day)."""

    store = _dimension("contacts.Store", _("store"))
    channel = _dimension("channels_qr.Channel", _("channel"), null=False)

    class Meta:
        verbose_name = _("monthly numbers per channel")
        verbose_name_plural = _("monthly numbers per channel")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "store", "channel"],
                include=COUNTS,
                nulls_distinct=False,
                name="dashboard_channel_month",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m} store {self.store_id} channel {self.channel_id}"


class GuideMonth(DayCounts):
    """GuideDay's rows of a calendar month added up (`day`: the month's first day), per
    store the guide was in."""

    guide = _dimension("contacts.Guide", _("guide"), null=False)
    store = _dimension("contacts.Store", _("store"))

    class Meta:
        verbose_name = _("monthly numbers per guide")
        verbose_name_plural = _("monthly numbers per guide")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "guide", "store"],
                include=COUNTS,
                nulls_distinct=False,
                name="dashboard_guide_month",
            )
        ]
        indexes = [
            models.Index(
                fields=["store", "day"],
                include=["guide", *COUNTS],
                name="dashboard_guide_month_store",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m} guide {self.guide_id}"


class RefreshState(models.Model):
    """Where the tenant's aggregation stands (one row)."""

    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_seconds = models.FloatField(null=True, blank=True)
    # Relations with a larger id are new since the last refresh; their days are refreshed
    # too (a sync brings relations added long ago). The scan starts one refresh back
    # (`relation_id_checked`), so a row whose transaction committed late is still seen.
    relation_id_seen = models.BigIntegerField(default=0)
    relation_id_checked = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("dashboard refresh state")
        verbose_name_plural = _("dashboard refresh state")

    def __str__(self) -> str:
        return f"dashboard refreshed at {self.refreshed_at}"
