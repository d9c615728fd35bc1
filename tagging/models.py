"""Corp tags (企业客户标签), mirrored from WeCom with WeCom's ids.

Which tags a customer carries is stored per relation (`contacts.Relation.wecom_tag_ids`):
WeCom tags a customer per guide.
"""

from django.contrib.postgres.fields import ArrayField
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


class Segment(models.Model):
    """A saved, named audience: a definition (see `tagging.segments`) evaluated in SQL."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    definition = models.JSONField(_("definition"))
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_count = models.IntegerField(null=True, blank=True)
    last_counted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class AutoTagRule(models.Model):
    """Tags applied to a relation when it is added, if it meets every condition set here.

    Within one condition any listed value matches (channel A or B); across conditions all
    must hold (channel A and store S). An empty condition does not restrict.
    """

    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    tag_ids = ArrayField(models.CharField(max_length=64), verbose_name=_("tags to apply"))
    channels = models.ManyToManyField(
        "channels_qr.Channel", blank=True, related_name="+", verbose_name=_("channels")
    )
    add_ways = ArrayField(
        models.IntegerField(), default=list, blank=True, verbose_name=_("how added")
    )
    guides = models.ManyToManyField(
        "contacts.Guide", blank=True, related_name="+", verbose_name=_("guides")
    )
    stores = models.ManyToManyField(
        "contacts.Store", blank=True, related_name="+", verbose_name=_("stores")
    )
    # Campaign window (a date range) and daily hours, in the tenant's time zone.
    valid_from = models.DateTimeField(_("from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("until"), null=True, blank=True)
    weekdays = ArrayField(
        models.PositiveSmallIntegerField(),
        default=list,
        blank=True,
        verbose_name=_("weekdays"),
        help_text=_("ISO weekdays, 1 = Monday"),
    )
    hour_from = models.TimeField(_("daily from"), null=True, blank=True)
    hour_until = models.TimeField(_("daily until"), null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("auto-tag rule")
        verbose_name_plural = _("auto-tag rules")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class BulkTagJob(models.Model):
    """Tag or untag many relations: a segment's, a CSV's, or a rule's (retroactively).

    Planned into one `BulkTagRow` per relation (and per invalid CSV line), then worked
    through in batches under a lease, so a killed worker's job is resumed where it stopped.
    """

    class Action(models.TextChoices):
        ADD = "add", _("Tag")
        REMOVE = "remove", _("Untag")

    class Source(models.TextChoices):
        SEGMENT = "segment", _("Segment")
        CSV = "csv", _("CSV upload")
        RULE = "rule", _("Auto-tag rule")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        CANCELLED = "cancelled", _("Cancelled")

    action = models.CharField(max_length=8, choices=Action.choices)
    tag_ids = ArrayField(models.CharField(max_length=64))
    source = models.CharField(max_length=8, choices=Source.choices)
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        AutoTagRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    total = models.IntegerField(default=0)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bulk tagging job")
        verbose_name_plural = _("bulk tagging jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.pk}"


class BulkTagRow(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        UNCHANGED = "unchanged", _("Already so")
        FAILED = "failed", _("Failed")
        INVALID = "invalid", _("Invalid row")

    # The (job, status, id) and (job, line, id) indexes serve every lookup by job.
    job = models.ForeignKey(
        BulkTagJob, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    line = models.IntegerField(default=0)  # the CSV line, 0 for segment and rule jobs
    value = models.CharField(max_length=200, blank=True)  # the CSV cell as given
    # No database constraint: checking 850,000 rows against contacts_relation at commit
    # took half of planning a job and locked every relation row (bench/segments.py).
    # Relations are never deleted; a missing one reads as None and fails its row.
    relation = models.ForeignKey(
        "contacts.Relation",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    errcode = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["job", "status", "id"], name="bulktagrow_work"),
            models.Index(fields=["job", "line", "id"], name="bulktagrow_report"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line} {self.status}"
