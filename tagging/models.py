"""Corp tags (企业客户标签), mirrored from WeCom with WeCom's ids.

Which tags a customer carries is stored per relation (`contacts.Relation.wecom_tag_ids`):
WeCom tags a customer per guide.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

NAME_MAX = 30  # WeCom: group and tag names up to 30 characters
TAGS_PER_CORP = 3000  # WeCom: corp tags per corp


class TagGroup(models.Model):
    group_id = models.CharField(_("WeCom group id"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=NAME_MAX)
    # WeCom sorts a higher order first.
    order = models.BigIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(default=timezone.now)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tag group")
        verbose_name_plural = _("tag groups")
        ordering = ["-order", "id"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    tag_id = models.CharField(_("WeCom tag id"), max_length=64, unique=True)
    group = models.ForeignKey(TagGroup, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("name"), max_length=NAME_MAX)
    order = models.BigIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(default=timezone.now)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["-order", "id"]

    def __str__(self) -> str:
        return self.name


class TagChange(models.Model):
    """The history of the tag catalogue: who changed what, where (WeCom or here)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        RENAMED = "renamed", _("Renamed")
        REORDERED = "reordered", _("Reordered")
        MOVED = "moved", _("Moved to another group")
        DELETED = "deleted", _("Deleted")

    class Source(models.TextChoices):
        WECOM = "wecom", _("WeCom")
        CONSOLE = "console", _("Console")
        API = "api", _("API")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    is_group = models.BooleanField(default=False)
    wecom_id = models.CharField(max_length=64)
    name = models.CharField(max_length=NAME_MAX)
    before = models.CharField(max_length=NAME_MAX, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tag change")
        verbose_name_plural = _("tag changes")
        indexes = [models.Index(fields=["-at", "-id"], name="tagchange_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"
