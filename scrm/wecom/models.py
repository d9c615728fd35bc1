"""Tenant data of the WeCom integration: the callback inbox and uploaded media."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CallbackEvent(models.Model):
    """One verified WeCom callback, stored before it is acknowledged; processed once."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSING = "processing", _("Processing")
        RETRYING = "retrying", _("Waiting to retry")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    app_kind = models.CharField(max_length=32)
    # Hash of (Event, ChangeType, ids, CreateTime[, MsgId]): WeCom re-sends a callback it did
    # not see acknowledged within 5 s, and a re-send must not be processed again.
    dedupe_key = models.CharField(max_length=64, unique=True)
    event = models.CharField(max_length=64)
    change_type = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    raw_xml = models.TextField()
    create_time = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    handlers_done = models.JSONField(default=list, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    errcode = models.IntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("callback event")
        verbose_name_plural = _("callback events")
        indexes = [models.Index(fields=["status", "received_at"], name="callback_status_received")]

    def __str__(self) -> str:
        kind = f"{self.event}/{self.change_type}" if self.change_type else self.event
        return f"#{self.pk} {kind}"


class MediaAsset(models.Model):
    """A file kept by the platform, with the WeCom temporary media_id made from it.

    WeCom forgets temporary media after 3 days; `media_id_for` re-uploads before that, and a
    periodic task refreshes the assets that are kept fresh (welcome messages, quick replies).
    """

    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        FILE = "file", _("File")
        VIDEO = "video", _("Video")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    file = models.FileField(upload_to="wecom-media/%Y/%m/")
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    keep_fresh = models.BooleanField(default=True)
    media_id = models.CharField(max_length=200, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("media asset")
        verbose_name_plural = _("media assets")

    def __str__(self) -> str:
        return self.name
