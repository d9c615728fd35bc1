"""Reads for API keys and the audit log."""

from django.db.models import QuerySet
from django.utils.crypto import constant_time_compare

from accounts.models import APIKey, AuditLogEntry
from accounts.services import API_KEY_PREFIX, api_key_hash


def api_key_from_raw(raw_key: str) -> APIKey | None:
    """The active key matching `raw_key` in the current schema, or None."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 8:
        return None
    api_key = APIKey.objects.filter(APIKey.accepted(), prefix=parts[1]).first()
    if api_key is None or not constant_time_compare(api_key.key_hash, api_key_hash(raw_key)):
        return None
    return api_key


def api_key_list() -> QuerySet[APIKey]:
    return APIKey.objects.select_related("created_by").order_by("-id")


def audit_log_list(*, action: str = "") -> QuerySet[AuditLogEntry]:
    entries = AuditLogEntry.objects.order_by("-id")
    if action:
        entries = entries.filter(action=action)
    return entries
