"""Writes for operators, API keys, the audit log and login throttling."""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import APIKey, AuditLogEntry, User
from scrm.client_ip import client_ip

API_KEY_PREFIX = "scrm"
# How long a rotated API key keeps working beside its replacement.
API_KEY_ROTATION_OVERLAP = timedelta(hours=24)


def audit_record(
    *,
    action: str,
    actor: Any = None,
    target: models.Model | None = None,
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditLogEntry:
    """Record one sensitive action in the current schema's audit log.

    `actor` is a User, an APIKey or None (the system). With a request, the client address
    and user agent are recorded too.
    """
    actor_type, actor_id, actor_label = AuditLogEntry.ActorType.SYSTEM, "", "system"
    if isinstance(actor, APIKey):
        actor_type, actor_id, actor_label = (
            AuditLogEntry.ActorType.API_KEY,
            str(actor.pk),
            str(actor),
        )
    elif actor is not None and getattr(actor, "is_authenticated", False):
        actor_type, actor_id, actor_label = (
            AuditLogEntry.ActorType.USER,
            str(actor.pk),
            actor.get_username(),
        )
    return AuditLogEntry.objects.create(
        action=action,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=actor_label[:150],
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        detail=detail or {},
        ip_address=client_ip(request) if request is not None else None,
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
    )


@transaction.atomic
def operator_create(
    *, username: str, password: str, role: str, email: str = "", actor: Any = None
) -> User:
    """Create an operator account in the current tenant schema."""
    if role not in User.Role.values:
        raise ValueError(f"unknown role {role!r}")
    user = User(username=username, email=email, role=role)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(action="operator.created", actor=actor, target=user, detail={"role": role})
    return user


def api_key_hash(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no password stretching).
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    name: str,
    scope: str,
    created_by: User | None,
    sees_phones: bool = False,
    request: HttpRequest | None = None,
) -> tuple[APIKey, str]:
    """Create a key; returns the row and the raw key, which is shown once and never stored.

    Unless `sees_phones`, the key reads customers' phone numbers masked.
    """
    if scope not in APIKey.Scope.values:
        raise ValueError(f"unknown scope {scope!r}")
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = APIKey.objects.create(
        name=name,
        scope=scope,
        sees_phones=sees_phones,
        prefix=prefix,
        key_hash=api_key_hash(raw_key),
        created_by=created_by,
    )
    audit_record(
        action="api_key.created",
        actor=created_by,
        target=api_key,
        detail={"scope": scope, "sees_phones": sees_phones},
        request=request,
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(
    *, api_key: APIKey, revoked_by: User | None, request: HttpRequest | None = None
) -> APIKey:
    """Revoke a key; requests with it get 401 from now on (a rotated key too, at once)."""
    updated = APIKey.objects.filter(APIKey.accepted(), pk=api_key.pk).update(
        revoked_at=timezone.now()
    )
    api_key.refresh_from_db()
    if updated:
        audit_record(action="api_key.revoked", actor=revoked_by, target=api_key, request=request)
    return api_key


class APIKeyRotationRefused(ValueError):
    """The key cannot be rotated (revoked, or already rotated): the message says why."""


@transaction.atomic
def api_key_rotate(
    *,
    api_key: APIKey,
    actor: Any,
    request: HttpRequest | None = None,
    overlap: timedelta = API_KEY_ROTATION_OVERLAP,
) -> tuple[APIKey, str]:
    """Replace a key without downtime: a new key with the same name, scope and phone
    permission (its raw key returned, shown once), while the old one keeps working for
    `overlap` (24 hours) and is refused after. Rotating a key twice is refused: the first
    replacement is the one to move to."""
    locked = APIKey.objects.select_for_update().get(pk=api_key.pk)
    now = timezone.now()
    if locked.revoked_at is not None and locked.revoked_at <= now:
        raise APIKeyRotationRefused(_("This key is revoked; create a new one instead."))
    if locked.revoked_at is not None:
        raise APIKeyRotationRefused(
            _("This key was already rotated; it stops working at %(time)s.")
            % {"time": timezone.localtime(locked.revoked_at).strftime("%Y-%m-%d %H:%M")}
        )
    user = actor if isinstance(actor, User) else None
    replacement, raw_key = api_key_create(
        name=locked.name,
        scope=locked.scope,
        sees_phones=locked.sees_phones,
        created_by=user or locked.created_by,
        request=request,
    )
    locked.revoked_at = now + overlap
    locked.save(update_fields=["revoked_at"])
    audit_record(
        action="api_key.rotated",
        actor=actor,
        target=locked,
        detail={"replacement": replacement.prefix, "valid_until": locked.revoked_at.isoformat()},
        request=request,
    )
    api_key.revoked_at = locked.revoked_at
    return replacement, raw_key


def api_key_mark_used(*, api_key_id: int, used_at: datetime) -> bool:
    """Move last_used_at forward (never back); False if the key does not exist here."""
    updated = (
        APIKey.objects.filter(pk=api_key_id)
        .filter(models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lt=used_at))
        .update(last_used_at=used_at)
    )
    return bool(updated) or APIKey.objects.filter(pk=api_key_id).exists()


def audit_log_prune(*, older_than_days: int) -> int:
    """Delete audit entries older than the retention period; returns how many."""
    if older_than_days < 30:
        raise ValueError("audit entries are kept at least 30 days")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _by_table = AuditLogEntry.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# Login throttling. The cache key function prefixes every key with the tenant schema, so a
# lockout on one brand's console never affects another's.
def _login_failure_keys(username: str, ip: str | None) -> list[str]:
    keys = [f"login-failures:user:{username.lower()}"]
    if ip:
        keys.append(f"login-failures:ip:{ip}")
    return keys


def login_lockout_remaining(*, username: str, ip: str | None) -> int:
    """Seconds until this username / address may try again (0: allowed now)."""
    remaining = 0
    for key in _login_failure_keys(username, ip):
        if (cache.get(key) or 0) >= settings.LOGIN_FAILURE_LIMIT:
            ttl = cache.ttl(key) if hasattr(cache, "ttl") else settings.LOGIN_LOCKOUT_SECONDS
            remaining = max(remaining, int(ttl or settings.LOGIN_LOCKOUT_SECONDS))
    return remaining


def login_failure_record(*, username: str, request: HttpRequest) -> None:
    """Count one failed login; the first lockout is written to the audit log."""
    ip = client_ip(request)
    for key in _login_failure_keys(username, ip):
        cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
        failures = cache.incr(key)
        if failures == settings.LOGIN_FAILURE_LIMIT:
            cache.expire(key, timeout=settings.LOGIN_LOCKOUT_SECONDS)  # type: ignore[attr-defined]
            if key.startswith("login-failures:user:"):
                audit_record(
                    action="login.locked", detail={"username": username[:150]}, request=request
                )


def login_failures_clear(*, username: str, request: HttpRequest) -> None:
    cache.delete_many(_login_failure_keys(username, client_ip(request)))
