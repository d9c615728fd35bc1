"""Writes of the privacy app: exporting a customer's data and erasing it on request, and the
tenant's retention settings. Every one of them is written to the audit log."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.services import audit_record
from contacts.models import Customer
from privacy.erased import privacy_settings
from privacy.erasure import ErasureResult, customers_erase, is_erased_id
from privacy.models import ErasedContact, PrivacySettings
from privacy.selectors import customer_export

RETENTION_MIN_DAYS = 1
RETENTION_MAX_DAYS = 3650
SETTINGS_FIELDS = ("relation_retention_days", "callback_retention_days")


class AlreadyErased(Exception):
    """The customer's personal information was erased before."""


def customer_export_record(
    *, customer: Customer, actor: Any, full_phones: bool, request: Any = None
) -> dict[str, Any]:
    """The customer's data (privacy.selectors.customer_export), the export audit-logged."""
    document = customer_export(customer=customer, full_phones=full_phones)
    audit_record(
        action="privacy.customer_exported",
        actor=actor,
        target=customer,
        detail={"phones_masked": not full_phones},
        request=request,
    )
    return document


def customer_erase(*, customer: Customer, actor: Any, request: Any = None) -> ErasureResult:
    """Erase one customer's personal information on their request (privacy.erasure): the
    counts that include them stay, one audit entry keeps their external_userid.

    Raises AlreadyErased when there is nothing left to erase."""
    if is_erased_id(customer.external_userid):
        raise AlreadyErased
    result = customers_erase(
        customer_ids=[customer.pk],
        actor=actor,
        reason=ErasedContact.Reason.REQUEST,
        request=request,
    )
    if not result.count:  # erased by someone else meanwhile
        raise AlreadyErased
    customer.refresh_from_db()
    return result


@transaction.atomic
def privacy_settings_update(*, actor: Any, request: Any = None, **values: int) -> PrivacySettings:
    """Change the retention periods (in days); the change is audit-logged."""
    options = privacy_settings()
    changed: dict[str, Any] = {}
    for name, value in values.items():
        if name not in SETTINGS_FIELDS:
            raise ValueError(f"unknown setting {name!r}")
        if not RETENTION_MIN_DAYS <= int(value) <= RETENTION_MAX_DAYS:
            raise ValueError(f"{name}: {RETENTION_MIN_DAYS} to {RETENTION_MAX_DAYS} days")
        if getattr(options, name) != int(value):
            changed[name] = {"before": getattr(options, name), "after": int(value)}
            setattr(options, name, int(value))
    if changed:
        options.updated_at = timezone.now()
        options.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action="privacy.settings_changed",
            actor=actor,
            target=options,
            detail=changed,
            request=request,
        )
    return options
