"""Acquisition channels (渠道) and their live QR codes (活码).

A channel is a touchpoint (a store poster, a parcel card); its live code is a WeCom contact
way whose `state` comes back on every customer it brings, which is how a relation is
attributed to its channel (`contacts.Relation.channel`). The way is always a multi-person
way (type 2): WeCom cannot change a way's type, and a printed code must survive a change
of strategy. Strategies are carried out by keeping the way's member list in step
(`channels_qr.strategies`).
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

STATE_MAX = 30  # WeCom: a contact way's state is at most 30 characters
CONTACT_WAYS_PER_CORP = 500_000  # WeCom: API-created contact ways per corp
WELCOME_ATTACHMENTS_MAX = 9  # WeCom: attachments of one welcome message
WELCOME_WINDOW_SECONDS = 20  # WeCom: a welcome code is good for 20 s after the event


class ChannelGroup(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.IntegerField(_("order"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("channel group")
        verbose_name_plural = _("channel groups")
        ordering = ["order", "name", "id"]

    def __str__(self) -> str:
        return self.name


class Channel(models.Model):
    class Strategy(models.TextChoices):
        SINGLE = "single", _("One guide")
        SEVERAL = "several", _("Several guides (WeCom picks)")
        WEIGHTED = "weighted", _("Several guides, weighted (approximate)")
        STORE = "store", _("The guides of one store")

    name = models.CharField(_("name"), max_length=100)
    group = models.ForeignKey(
        ChannelGroup,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="channels",
        verbose_name=_("channel group"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    tag_ids = ArrayField(
        models.CharField(max_length=64), default=list, blank=True, verbose_name=_("tags")
    )
    welcome_text = models.TextField(_("welcome text"), blank=True)
    welcome_attachments = models.JSONField(_("welcome attachments"), default=list, blank=True)
    strategy = models.CharField(
        _("assignment"), max_length=12, choices=Strategy.choices, default=Strategy.SEVERAL
    )
    store = models.ForeignKey(
        "contacts.Store",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("store"),
    )
    # Takes the customers when every guide is capped, outside working hours, and while the
    # channel is inactive or outside its dates.
    backup_guide = models.ForeignKey(
        "contacts.Guide",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("backup guide"),
    )
    skip_verify = models.BooleanField(_("add without confirmation"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Deleting a channel deletes its WeCom contact way; the row stays so that the customers
    # it brought keep their attribution and the stats their history.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ChannelGuide(models.Model):
    """A guide of a channel's list, with an optional daily cap and a weight."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="guides")
    guide = models.ForeignKey("contacts.Guide", on_delete=models.CASCADE, related_name="+")
    daily_cap = models.PositiveIntegerField(_("daily cap"), null=True, blank=True)
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "guide"], name="channelguide_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.guide_id}"


class ChannelHours(models.Model):
    """Working hours on one weekday (tenant time zone); outside them the backup guide."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"))  # ISO, 1 = Monday
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start}-{self.end}"


class LiveCode(models.Model):
    """A WeCom contact way (联系我) standing for its channel."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="live_codes")
    state = models.CharField(_("state"), max_length=STATE_MAX, unique=True)
    config_id = models.CharField(_("WeCom config id"), max_length=64, blank=True)
    qr_code = models.URLField(_("QR code"), max_length=500, blank=True)
    skip_verify = models.BooleanField(default=True)
    # The member list last pushed to WeCom (userids), and when.
    members = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    members_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("live code")
        verbose_name_plural = _("live codes")

    def __str__(self) -> str:
        return self.state


class WelcomeMessage(models.Model):
    """A welcome for adds that no channel welcomes: the tenant default, or a guide's or a
    store's own (a guide's wins over their store's, a store's over the default)."""

    class Scope(models.TextChoices):
        DEFAULT = "default", _("Everyone else")
        GUIDE = "guide", _("A guide")
        STORE = "store", _("A store")

    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.DEFAULT)
    guide = models.OneToOneField(
        "contacts.Guide", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    store = models.OneToOneField(
        "contacts.Store", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    text = models.TextField(_("text"), blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("welcome message")
        verbose_name_plural = _("welcome messages")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope="default", guide__isnull=True, store__isnull=True)
                    | models.Q(scope="guide", guide__isnull=False, store__isnull=True)
                    | models.Q(scope="store", guide__isnull=True, store__isnull=False)
                ),
                name="welcome_scope_matches",
            ),
            models.UniqueConstraint(
                fields=["scope"], condition=models.Q(scope="default"), name="welcome_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.text[:30]


class WelcomeLog(models.Model):
    """What became of the welcome of one add event (one row per event, never two)."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        NO_CODE = "no_code", _("No welcome code (the guide has a welcome set in WeCom)")
        EXPIRED = "expired", _("Expired (over 20 s)")
        ALREADY = "already", _("Already delivered")
        NOTHING = "nothing", _("No welcome configured")
        FAILED = "failed", _("Failed")

    event_id = models.BigIntegerField(unique=True)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="welcomes"
    )
    state = models.CharField(max_length=64, blank=True)
    userid = models.CharField(max_length=64)
    external_userid = models.CharField(max_length=64)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    errcode = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    event_at = models.DateTimeField()  # WeCom's CreateTime
    done_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["channel", "done_at"], name="welcomelog_channel")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.outcome}"
