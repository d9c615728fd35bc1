"""The brand's contact book: stores, guides, customers, their relations, group chats.

Sized for 20 million relations per tenant: every list is read through an index that matches
its order (keyset pagination, never OFFSET), customers are searched through trigram indexes,
and sync writes rows in bulk statements rather than one ORM save per row.
"""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Store(models.Model):
    """A WeCom department: a store, a region or the head office."""

    department_id = models.BigIntegerField(_("WeCom department id"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    parent_department_id = models.BigIntegerField(null=True, blank=True)
    order = models.BigIntegerField(default=0)
    # Told when a customer deletes one of the store's guides (删人提醒); WeCom's department
    # leaders fill it on sync, operators may add others.
    managers = models.ManyToManyField(
        "contacts.Guide", blank=True, related_name="managed_stores", verbose_name=_("managers")
    )
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["order", "department_id"]

    def __str__(self) -> str:
        return self.name


class Guide(models.Model):
    """A WeCom member who holds customers (导购). Keyed by our id: WeCom renames userids."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DEPARTED = "departed", _("Departed")

    userid = models.CharField(_("WeCom userid"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    position = models.CharField(_("position"), max_length=200, blank=True)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="guides"
    )
    department_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    departed_at = models.DateTimeField(null=True, blank=True)
    # In WeCom's customer-contact range (get_follow_user_list): only these can hold customers.
    customer_contact = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("guide")
        verbose_name_plural = _("guides")
        indexes = [models.Index(fields=["store", "status"], name="guide_store_status")]

    def __str__(self) -> str:
        return f"{self.name} ({self.userid})"


# An erased customer's external_userid (privacy.erasure): an opaque id WeCom does not know,
# so no message, tag or transfer may name them.
ERASED_ID_PREFIX = "erased_"


def erased(path: str = "") -> models.Q:
    """Customers erased on request; `path` leads from the queried model to the customer."""
    return models.Q(**{f"{path}external_userid__startswith": ERASED_ID_PREFIX})


class Customer(models.Model):
    """A WeCom external contact, once per tenant whatever the number of guides holding it."""

    class Type(models.IntegerChoices):
        WECHAT = 1, _("WeChat user")
        WECOM = 2, _("WeCom user")

    class Gender(models.IntegerChoices):
        UNKNOWN = 0, _("Unknown")
        MALE = 1, _("Male")
        FEMALE = 2, _("Female")

    external_userid = models.CharField(_("external userid"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    avatar = models.URLField(_("avatar"), max_length=500, blank=True)
    type = models.PositiveSmallIntegerField(choices=Type.choices, default=Type.WECHAT)
    gender = models.PositiveSmallIntegerField(choices=Gender.choices, default=Gender.UNKNOWN)
    unionid = models.CharField(max_length=64, blank=True)
    corp_name = models.CharField(_("company"), max_length=200, blank=True)
    position = models.CharField(_("position"), max_length=200, blank=True)
    # The latest time any guide added this customer: the list's order, newest first.
    last_added_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["-last_added_at", "-id"], name="customer_recent"),
            models.Index(
                fields=["unionid"], name="customer_unionid", condition=~models.Q(unionid="")
            ),
            # Search: Django's icontains is UPPER(col) LIKE UPPER(%q%) on PostgreSQL.
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="customer_name_trgm"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_userid


class Relation(models.Model):
    """A guide x customer friendship (WeCom's follow_user): remarks and tags live here."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DELETED_BY_CUSTOMER = "deleted_by_customer", _("Deleted by the customer")
        DELETED_BY_GUIDE = "deleted_by_guide", _("Deleted by the guide")
        TRANSFERRED = "transferred", _("Transferred")
        # A full sync found it missing and no callback said why.
        VANISHED = "vanished", _("Gone (found missing by sync)")

    class AddWay(models.IntegerChoices):
        UNKNOWN = 0, _("Unknown")
        QR_CODE = 1, _("Scanned a QR code")
        MOBILE = 2, _("Searched a mobile number")
        CARD = 3, _("Shared business card")
        GROUP_CHAT = 4, _("From a group chat")
        PHONE_CONTACTS = 5, _("Phone contacts")
        WECHAT_CONTACTS = 6, _("WeChat contacts")
        WECHAT_REQUEST = 7, _("WeChat friend request")
        THIRD_PARTY = 8, _("Third party / customer service")
        EMAIL = 9, _("Searched an email")
        CHANNELS = 10, _("WeChat Channels")
        INTERNAL_SHARE = 201, _("Shared by a colleague")
        ASSIGNED = 202, _("Assigned by an admin")

    guide = models.ForeignKey(
        Guide, on_delete=models.PROTECT, related_name="relations", db_index=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="relations")
    remark = models.CharField(_("remark"), max_length=200, blank=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    remark_corp_name = models.CharField(max_length=200, blank=True)
    remark_mobiles = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    add_way = models.IntegerField(_("how added"), choices=AddWay.choices, default=0)
    state = models.CharField(_("channel state"), max_length=64, blank=True)
    # The channel whose live code brought the relation (its `state`), set when the add is
    # processed; a state no live code has is kept and flagged.
    channel = models.ForeignKey(
        "channels_qr.Channel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("channel"),
    )
    # db_default: the sync writes relations in raw SQL that does not name this column.
    state_unknown = models.BooleanField(default=False, db_default=False)
    oper_userid = models.CharField(max_length=64, blank=True)
    # WeCom corp tag ids on this relation, as WeCom last reported them.
    wecom_tag_ids = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    added_at = models.DateTimeField(_("added at"))
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.ACTIVE)
    # WeCom's time of the last status change (event CreateTime); an older event never
    # overrides a newer one, so out-of-order callbacks leave the right final state.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Last time WeCom confirmed this relation (sync or callback); a full sync marks active
    # relations it did not confirm as vanished.
    confirmed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("relation")
        verbose_name_plural = _("relations")
        constraints = [
            models.UniqueConstraint(fields=["guide", "customer"], name="relation_guide_customer")
        ]
        indexes = [
            # The unique (guide, customer) index serves a guide's relations and counts.
            models.Index(fields=["guide", "-added_at"], name="relation_guide_added"),
            models.Index(
                fields=["guide", "-deleted_at"],
                name="relation_guide_deleted",
                condition=models.Q(deleted_at__isnull=False),
            ),
            models.Index(fields=["-added_at", "-id"], name="relation_added"),
            models.Index(fields=["state"], name="relation_state", condition=~models.Q(state="")),
            # Ended relations are few: filtering by such a status must not read them all.
            models.Index(
                fields=["status", "guide", "customer"],
                name="relation_ended",
                condition=~models.Q(status="active"),
            ),
            GinIndex(fields=["remark_mobiles"], name="relation_mobiles"),
            GinIndex(fields=["wecom_tag_ids"], name="relation_tags"),
            models.Index(
                fields=["channel", "added_at"],
                name="relation_channel_added",
                condition=models.Q(channel__isnull=False),
            ),
            GinIndex(OpClass(Upper("remark"), name="gin_trgm_ops"), name="relation_remark_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.guide_id} x {self.customer_id}"


class CustomerEvent(models.Model):
    """One entry of a customer's timeline. Later features add kinds."""

    class Kind(models.TextChoices):
        ADDED = "added", _("Added a guide")
        DELETED_BY_CUSTOMER = "deleted_by_customer", _("Deleted the guide")
        DELETED_BY_GUIDE = "deleted_by_guide", _("Deleted by the guide")
        VANISHED = "vanished", _("Relation gone")
        EDITED = "edited", _("Remark edited")
        TAGGED = "tagged", _("Tags changed")
        TRANSFERRED = "transferred", _("Transferred")
        TRANSFER_FAILED = "transfer_failed", _("Transfer failed")
        MESSAGE = "message", _("Message")
        NOTE = "note", _("Note")
        PENDING = "pending", _("Friend request pending")
        ORDER = "order", pgettext_lazy("purchase", "Order")
        ORDER_REFUNDED = "order_refunded", _("Order refunded")
        CUSTOM = "custom", _("Custom event")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    guide = models.ForeignKey(
        Guide, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    data = models.JSONField(default=dict, blank=True)
    # Makes writers idempotent: a retried handler or sync step writes the same key again.
    dedupe_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("customer event")
        verbose_name_plural = _("customer events")
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="customer_event_time"),
            models.Index(
                fields=["kind", "-occurred_at"],
                name="customer_event_deletions",
                condition=models.Q(kind__in=["deleted_by_customer", "deleted_by_guide"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class GroupChat(models.Model):
    """A customer group chat (客户群)."""

    class Status(models.TextChoices):
        NORMAL = "normal", _("Normal")
        OWNER_DEPARTED = "owner_departed", _("Owner departed, awaiting handover")
        HANDOVER_IN_PROGRESS = "handover", _("Handover in progress")
        HANDOVER_DONE = "handed_over", _("Handed over")
        DISMISSED = "dismissed", _("Dismissed")

    # WeCom's groupchat status numbers.
    WECOM_STATUS = {
        0: Status.NORMAL,
        1: Status.OWNER_DEPARTED,
        2: Status.HANDOVER_IN_PROGRESS,
        3: Status.HANDOVER_DONE,
    }

    chat_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    owner = models.ForeignKey(
        Guide, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_chats"
    )
    owner_userid = models.CharField(max_length=64, blank=True)
    notice = models.TextField(_("notice"), blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NORMAL)
    member_count = models.PositiveIntegerField(default=0)
    customer_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("group chat")
        verbose_name_plural = _("group chats")
        indexes = [models.Index(fields=["-created_at", "-id"], name="groupchat_recent")]

    def __str__(self) -> str:
        return self.name or self.chat_id


class GroupChatMember(models.Model):
    class Kind(models.IntegerChoices):
        STAFF = 1, _("Staff")
        CUSTOMER = 2, _("Customer")

    chat = models.ForeignKey(GroupChat, on_delete=models.CASCADE, related_name="members")
    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    userid = models.CharField(max_length=64)  # member userid or external_userid
    guide = models.ForeignKey(
        Guide, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_memberships"
    )
    name = models.CharField(max_length=200, blank=True)
    group_nickname = models.CharField(max_length=200, blank=True)
    unionid = models.CharField(max_length=64, blank=True)
    join_time = models.DateTimeField(null=True, blank=True)
    join_scene = models.PositiveSmallIntegerField(default=0)
    invitor_userid = models.CharField(max_length=64, blank=True)
    is_admin = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("group chat member")
        verbose_name_plural = _("group chat members")
        constraints = [
            models.UniqueConstraint(fields=["chat", "userid"], name="groupchat_member_unique")
        ]

    def __str__(self) -> str:
        return self.name or self.userid


class SyncRun(models.Model):
    """One full sync with WeCom: progress for the console, a checkpoint to resume from."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Phase(models.TextChoices):
        DIRECTORY = "directory", _("Stores and guides")
        CONTACTS = "contacts", _("Customers")
        GROUP_CHATS = "group_chats", _("Group chats")
        SWEEP = "sweep", _("Marking relations gone from WeCom")
        FINISHED = "finished", _("All phases done")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # True while queued or running, NULL after: unique, so one sync at a time per tenant.
    in_flight = models.BooleanField(null=True, default=True, unique=True)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.DIRECTORY)
    trigger = models.CharField(max_length=16, default="console")  # console / schedule / api
    requested_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Checkpoint: the guides of this run (userids, in order) are walked in batches of 100;
    # `batch_index` is the batch in progress and `cursor` WeCom's next_cursor within it.
    guide_userids = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    batch_index = models.PositiveIntegerField(default=0)
    cursor = models.CharField(max_length=512, blank=True)
    chat_ids_done = models.PositiveIntegerField(default=0)
    stats = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Held by the worker running it; a killed worker's lease runs out and the run resumes.
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")

    def __str__(self) -> str:
        return f"sync #{self.pk} ({self.status})"

    @property
    def batch_count(self) -> int:
        return -(-len(self.guide_userids) // 100)

    def stat_items(self) -> list[tuple[str, int]]:
        """The run's counters with their labels, in a fixed order, zeros left out."""
        return [
            (str(label), int(self.stats[key]))
            for key, label in SYNC_STAT_LABELS.items()
            if self.stats.get(key)
        ]


SYNC_STAT_LABELS = {
    "stores": _("stores"),
    "guides": _("guides"),
    "guides_departed": _("guides departed"),
    "pages": _("pages read"),
    "relations_seen": _("relations read"),
    "customers_new": _("new customers"),
    "customers_updated": _("customers updated"),
    "relations_new": _("new relations"),
    "relations_revived": _("relations back"),
    "relations_skipped": _("relations of unknown guides"),
    "group_chats": _("group chats"),
    "group_chats_dismissed": _("group chats dismissed"),
    "relations_vanished": _("relations gone"),
}


class ContactSettings(models.Model):
    """The tenant's settings for contacts (one row)."""

    class AlertMode(models.TextChoices):
        OFF = "off", _("Off")
        IMMEDIATE = "immediate", _("At once")
        DAILY = "daily", _("Daily digest")

    deletion_alert_mode = models.CharField(
        _("deletion alerts"), max_length=16, choices=AlertMode.choices, default=AlertMode.IMMEDIATE
    )
    # Told of every deletion besides the store's managers.
    deletion_alert_recipients = models.ManyToManyField(
        Guide, blank=True, related_name="+", verbose_name=_("also tell")
    )
    alert_on_guide_deletes = models.BooleanField(
        _("also alert when a guide deletes a customer"), default=True
    )
    daily_sync_enabled = models.BooleanField(_("nightly full sync"), default=True)
    last_digest_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("contact settings")
        verbose_name_plural = _("contact settings")

    def __str__(self) -> str:
        return "contact settings"
