"""Personal information protection (个人信息保护法, PIPL): the tenant's retention settings and
the keyed hashes of erased customers' external_userids.

An erased customer keeps their row (with an opaque `erased_…` id and no personal fields) so
that every count that includes them stays; the hash lets the contact sync and WeCom's
callbacks recognise them without the platform keeping their WeCom id.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.encryption import EncryptedTextField

RELATION_RETENTION_DEFAULT = 365
CALLBACK_RETENTION_DEFAULT = 30


class PrivacySettings(models.Model):
    """The tenant's privacy settings and the retention job's progress (one row)."""

    relation_retention_days = models.PositiveIntegerField(
        _("keep deleted relations for (days)"), default=RELATION_RETENTION_DEFAULT
    )
    callback_retention_days = models.PositiveIntegerField(
        _("keep raw WeCom callbacks for (days)"), default=CALLBACK_RETENTION_DEFAULT
    )
    # The key of the erased ids' HMAC, random per tenant and stored encrypted, so a leaked
    # table of hashes cannot be checked against guessed ids, and rotating SECRET_KEY or the
    # encryption key (encryption_rotate re-encrypts it) never changes the hashes.
    hash_key = EncryptedTextField(blank=True, default="")
    # Where the retention job stands: the cutoff of its last complete run over relations
    # (relations that ended before it were handled), the last callback such that it and
    # every earlier one were cleared, and what the last run did.
    relations_checked_before = models.DateTimeField(null=True, blank=True)
    callbacks_checked_id = models.BigIntegerField(default=0)
    retention_ran_at = models.DateTimeField(null=True, blank=True)
    retention_seconds = models.FloatField(null=True, blank=True)
    retention_stats = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("privacy settings")
        verbose_name_plural = _("privacy settings")

    def __str__(self) -> str:
        return "privacy settings"


class ErasedContact(models.Model):
    """An erased customer's external_userid, as a keyed hash (never the id itself)."""

    class Reason(models.TextChoices):
        REQUEST = "request", _("On the customer's request")
        RETENTION = "retention", _("Retention period over")

    id_hash = models.CharField(max_length=64, unique=True)
    # The anonymised row the customer's counts stay linked to.
    customer = models.ForeignKey(
        "contacts.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.REQUEST)
    erased_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("erased customer")
        verbose_name_plural = _("erased customers")

    def __str__(self) -> str:
        return f"erased customer {self.customer_id} ({self.erased_at:%Y-%m-%d})"
