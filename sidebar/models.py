"""The guide sidebar (聊天工具栏): notes and follow-ups on customers, and the quick replies
operators prepare for guides to send into the chat."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

NOTE_MAX = 2000


class SidebarSettings(models.Model):
    """The tenant's sidebar settings (one row)."""

    class Scope(models.TextChoices):
        OWN = "own", _("Only customers the guide holds")
        STORE = "store", _("Also the customers of the guide's store")

    guide_scope = models.CharField(
        _("a guide sees"), max_length=8, choices=Scope.choices, default=Scope.OWN
    )

    class Meta:
        verbose_name = _("sidebar settings")
        verbose_name_plural = _("sidebar settings")

    def __str__(self) -> str:
        return "sidebar settings"


class Note(models.Model):
    """A note on a customer, by a guide (from the sidebar) or an operator (console)."""

    customer = models.ForeignKey(
        "contacts.Customer", on_delete=models.CASCADE, related_name="notes"
    )
    guide = models.ForeignKey(
        "contacts.Guide", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.CharField(_("author"), max_length=200)
    text = models.TextField(_("text"), max_length=NOTE_MAX)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        indexes = [models.Index(fields=["customer", "-created_at"], name="note_customer")]

    def __str__(self) -> str:
        return self.text[:40]


class FollowUp(models.Model):
    """Something to do for a customer by a date (跟进)."""

    customer = models.ForeignKey(
        "contacts.Customer", on_delete=models.CASCADE, related_name="follow_ups"
    )
    guide = models.ForeignKey(
        "contacts.Guide", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(_("what to do"), max_length=200)
    due_at = models.DateTimeField(_("due"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [
            models.Index(fields=["customer", "done_at", "due_at"], name="followup_customer"),
            models.Index(
                fields=["guide", "due_at"],
                name="followup_open",
                condition=models.Q(done_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class QuickReplyFolder(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("quick reply folder")
        verbose_name_plural = _("quick reply folders")
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.name


class QuickReply(models.Model):
    """A ready-made message (话术) a guide sends into the chat with one tap."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        LINK = "link", _("Link")

    folder = models.ForeignKey(QuickReplyFolder, on_delete=models.CASCADE, related_name="replies")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TEXT)
    title = models.CharField(_("title"), max_length=100)
    text = models.TextField(_("text"), blank=True, max_length=2000)
    media = models.ForeignKey(
        "wecom.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    url = models.URLField(_("link"), blank=True)
    description = models.CharField(_("link description"), max_length=200, blank=True)
    order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("quick reply")
        verbose_name_plural = _("quick replies")
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.title
