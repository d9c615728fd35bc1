"""Writes to the contact book that operators, integrators and handlers ask for."""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from contacts.models import ContactSettings, Customer, CustomerEvent, Guide, Relation, SyncRun
from scrm.wecom.client import WeComClient, WeComNotConnected, wecom_client

REMARK_MAX = 20  # WeCom: remark up to 20 characters
DESCRIPTION_MAX = 150
REMARK_MOBILES_MAX = 5


class SyncAlreadyRunning(Exception):
    def __init__(self, run: SyncRun) -> None:
        super().__init__(f"sync #{run.pk} is {run.status}")
        self.run = run


def directory_client(*, priority: str = "bulk") -> WeComClient:
    """The client for members and departments: the contacts-sync app when the brand set one
    up, else the customer contact app (whose visible range then bounds what we see)."""
    try:
        return wecom_client(app_kind="contacts_sync", priority=priority)  # type: ignore[arg-type]
    except WeComNotConnected:
        return wecom_client(app_kind="customer_contact", priority=priority)  # type: ignore[arg-type]


def contact_settings_get() -> ContactSettings:
    settings_row = ContactSettings.objects.order_by("pk").first()
    if settings_row is None:
        settings_row, _ = ContactSettings.objects.get_or_create(pk=1)
    return settings_row


@transaction.atomic
def contact_settings_update(
    *,
    actor: Any,
    deletion_alert_mode: str,
    alert_on_guide_deletes: bool,
    daily_sync_enabled: bool,
    recipient_ids: list[int],
) -> ContactSettings:
    row = contact_settings_get()
    row.deletion_alert_mode = deletion_alert_mode
    row.alert_on_guide_deletes = alert_on_guide_deletes
    row.daily_sync_enabled = daily_sync_enabled
    row.save()
    row.deletion_alert_recipients.set(Guide.objects.filter(pk__in=recipient_ids))
    audit_record(
        action="settings.changed",
        actor=actor,
        target=row,
        detail={
            "deletion_alert_mode": deletion_alert_mode,
            "alert_on_guide_deletes": alert_on_guide_deletes,
            "daily_sync_enabled": daily_sync_enabled,
            "recipients": sorted(recipient_ids),
        },
    )
    return row


def sync_start(*, trigger: str = "console", actor: Any = None) -> SyncRun:
    """Queue a full sync; raises SyncAlreadyRunning when one is queued or running."""
    from contacts.tasks import contacts_sync_task
    from scrm.tenant_tasks import enqueue

    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                trigger=trigger, requested_by=actor if isinstance(actor, User) else None
            )
            enqueue(contacts_sync_task, sync_run_id=run.pk)
            if actor is not None:
                audit_record(action="contacts.sync_started", actor=actor, target=run)
    except IntegrityError:
        running = SyncRun.objects.filter(in_flight=True).first()
        if running is None:  # finished in between: try once more
            return sync_start(trigger=trigger, actor=actor)
        raise SyncAlreadyRunning(running) from None
    return run


def customer_event_record(
    *,
    customer_id: int,
    kind: str,
    occurred_at: datetime,
    guide_id: int | None = None,
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> CustomerEvent | None:
    """Add a timeline entry; with a dedupe key, a second call with it records nothing."""
    event = CustomerEvent(
        customer_id=customer_id,
        kind=kind,
        occurred_at=occurred_at,
        guide_id=guide_id,
        data=data or {},
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None:
        event.save()
        return event
    created = CustomerEvent.objects.bulk_create([event], ignore_conflicts=True)
    return created[0] if created and created[0].pk else None


def relation_remark_update(
    *,
    relation: Relation,
    actor: Any,
    remark: str | None = None,
    description: str | None = None,
    remark_mobiles: list[str] | None = None,
) -> Relation:
    """Write a relation's remark, description and remark phones: WeCom first, then here.

    Raises ValueError for values WeCom would refuse and WeComError when WeCom refuses; in
    both cases nothing is saved. WeCom sends no callback for API edits, so the platform
    records the change itself.
    """
    changes: dict[str, Any] = {}
    if remark is not None:
        if len(remark) > REMARK_MAX:
            raise ValueError(f"remark: at most {REMARK_MAX} characters")
        changes["remark"] = remark
    if description is not None:
        if len(description) > DESCRIPTION_MAX:
            raise ValueError(f"description: at most {DESCRIPTION_MAX} characters")
        changes["description"] = description
    if remark_mobiles is not None:
        mobiles = list(dict.fromkeys(m.strip() for m in remark_mobiles if m.strip()))
        if len(mobiles) > REMARK_MOBILES_MAX:
            raise ValueError(f"remark_mobiles: at most {REMARK_MOBILES_MAX} numbers")
        if any(not m.lstrip("+").isdigit() or len(m) > 20 for m in mobiles):
            raise ValueError("remark_mobiles: digits only, at most 20 each")
        changes["remark_mobiles"] = mobiles
    if not changes:
        return relation
    guide = Guide.objects.get(pk=relation.guide_id)
    customer = Customer.objects.get(pk=relation.customer_id)
    client = wecom_client(app_kind="customer_contact")
    client.post(
        "externalcontact/remark",
        data={"userid": guide.userid, "external_userid": customer.external_userid, **changes},
    )
    with transaction.atomic():
        before = {name: getattr(relation, name) for name in changes}
        for name, value in changes.items():
            setattr(relation, name, value)
        relation.updated_at = timezone.now()
        relation.save(update_fields=[*changes, "updated_at"])
        customer_event_record(
            customer_id=customer.pk,
            kind=CustomerEvent.Kind.EDITED,
            occurred_at=relation.updated_at,
            guide_id=guide.pk,
            data={"by": str(actor) if actor is not None else "", "before": before, **changes},
        )
        audit_record(action="contacts.remark_updated", actor=actor, target=relation, detail=changes)
    return relation
