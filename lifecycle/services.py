"""Writes of the lifecycle rules. Recomputing the stages is lifecycle.stages."""

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.services import audit_record
from lifecycle.models import LifecycleSettings

RULE_FIELDS = ("new_days", "engaged_days", "order_days")


def lifecycle_settings() -> LifecycleSettings:
    """The tenant's rules (one row), created with the defaults on first use."""
    row = LifecycleSettings.objects.order_by("pk").first()
    return row or LifecycleSettings.objects.create()


@transaction.atomic
def lifecycle_settings_update(
    *,
    new_days: int,
    engaged_days: int,
    order_days: int,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> LifecycleSettings:
    """Save the rules, record what changed in the audit log and, when a threshold changed,
    recompute every customer's stage in the background (after commit)."""
    options = lifecycle_settings()
    wanted = {"new_days": new_days, "engaged_days": engaged_days, "order_days": order_days}
    changed = {
        name: {"from": getattr(options, name), "to": value}
        for name, value in wanted.items()
        if getattr(options, name) != value
    }
    if not changed:
        return options
    for name, value in wanted.items():
        setattr(options, name, value)
    options.updated_at = timezone.now()
    options.save(update_fields=[*RULE_FIELDS, "updated_at"])
    audit_record(
        action="lifecycle.settings_changed",
        actor=actor,
        target=options,
        detail=changed,
        request=request,
    )
    customer_stages_recompute_queue()
    return options


def customer_stages_recompute_queue() -> None:
    """Recompute every stage in the background, after the current transaction commits."""
    from lifecycle.tasks import customer_stages_recompute_task
    from scrm.tenant_tasks import enqueue

    enqueue(customer_stages_recompute_task)
