"""Operators, API keys and the audit log.

This app is both shared and tenant: in a tenant schema its rows are the brand's operators,
keys and audit trail; in the public schema, platform staff and platform actions.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        OPERATOR = "operator", _("Operator")
        VIEWER = "viewer", _("Viewer")

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.OPERATOR)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_tenant_admin(self) -> bool:
        return self.is_active and self.role == self.Role.ADMIN

    @property
    def can_write(self) -> bool:
        return self.is_active and self.role in (self.Role.ADMIN, self.Role.OPERATOR)


class APIKey(models.Model):
    """A tenant's key for the REST API. Only a SHA-256 hash of the key is stored."""

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        READ_WRITE = "read_write", _("Read and write")

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    # Privacy by default: without it, the API masks customers' phone numbers (138****5678).
    sees_phones = models.BooleanField(_("may read phone numbers"), default=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Refused from this time on; a time still to come when the key was rotated (it keeps
    # working until then, while the integration moves to its replacement).
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @staticmethod
    def accepted() -> models.Q:
        """Keys still accepted: never revoked, or rotated and inside their overlap."""
        return models.Q(revoked_at__isnull=True) | models.Q(revoked_at__gt=timezone.now())

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None or self.revoked_at > timezone.now()

    @property
    def is_retiring(self) -> bool:
        """Rotated: still accepted until `revoked_at`."""
        return self.revoked_at is not None and self.revoked_at > timezone.now()

    @property
    def display_key(self) -> str:
        return f"scrm_{self.prefix}_••••"


class AuditLogEntry(models.Model):
    """Who did what, when, from where. Written through accounts.services.audit_record."""

    class ActorType(models.TextChoices):
        USER = "user", _("Operator")
        API_KEY = "api_key", _("API key")
        SYSTEM = "system", _("System")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` an API key sent with a POST, and the first answer to it.

    Written in the same transaction as the request's own writes (scrm.api.idempotency), so a
    request that failed leaves no key behind, and a concurrent duplicate waits on the unique
    index until the first commits, then replays its answer.
    """

    api_key = models.ForeignKey(APIKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    # Null while the first request runs (no other transaction ever sees that state).
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique")
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_key_expiry")]

    def __str__(self) -> str:
        return f"{self.key} ({self.response_status})"
