"""Acquisition channels (渠道) and their live QR codes (活码).

A channel is a touchpoint (a store poster, a parcel card); each of its live codes is a WeCom
contact way whose `state` comes back on every customer it brings, which is how a relation is
attributed to its channel (`contacts.Relation.state`).
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

STATE_MAX = 30  # WeCom: a contact way's state is at most 30 characters


class Channel(models.Model):
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class LiveCode(models.Model):
    """A WeCom contact way (联系我) standing for its channel."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="live_codes")
    state = models.CharField(_("state"), max_length=STATE_MAX, unique=True)
    config_id = models.CharField(_("WeCom config id"), max_length=64, blank=True)
    qr_code = models.URLField(_("QR code"), max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("live code")
        verbose_name_plural = _("live codes")

    def __str__(self) -> str:
        return self.state
