"""Starting, proposing, cancelling and re-allocating handovers; the triggers that find
departed guides (the delete_user callback and WeCom's unassigned list)."""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from contacts.models import GroupChat, Guide, Relation, Store
from handover.allocation import (
    AllocationPlan,
    HandoverInputError,
    allocation_plan,
    reason_text,
    spread_evenly,
)
from handover.models import Handover, HandoverSettings, TransferItem
from scrm.wecom.client import WeComClient, wecom_client

logger = logging.getLogger(__name__)

MESSAGE_MAX = 200  # WeCom's transfer_success_msg limit
UNASSIGNED_PAGE = 1000


def handover_settings() -> HandoverSettings:
    settings_row = HandoverSettings.objects.order_by("pk").first()
    return settings_row or HandoverSettings.objects.create()


def _actor_label(actor: Any) -> str:
    if actor is None:
        return ""
    return str(getattr(actor, "get_username", lambda: actor)())


def _enqueue_send(handover: Handover) -> None:
    from handover.tasks import handover_send_task
    from scrm.tenant_tasks import enqueue

    enqueue(handover_send_task, handover_id=handover.pk)


def _clean_message(kind: str, message: str | None) -> str:
    text = (message if message is not None else handover_settings().onjob_message).strip()
    if kind != Handover.Kind.ON_DUTY:
        return ""
    if len(text) > MESSAGE_MAX:
        raise HandoverInputError(
            _("the message to customers is at most %(n)d characters") % {"n": MESSAGE_MAX}
        )
    return text


def handover_start(
    *,
    from_guides: Sequence[Guide],
    mode: str,
    takers: Sequence[Guide] = (),
    store: Store | None = None,
    max_per_guide: int | None = None,
    csv_data: bytes | None = None,
    include_chats: bool = True,
    message: str | None = None,
    trigger: str = Handover.Trigger.OPERATOR,
    proposal: Handover | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> Handover:
    """Plan and start a handover in one transaction (the plan is computed again here, so
    what is saved is what holds now); the sending is queued after the commit."""
    with transaction.atomic():
        if proposal is not None:
            proposal = Handover.objects.select_for_update().get(pk=proposal.pk)
            if proposal.status != Handover.Status.PROPOSED:
                raise HandoverInputError(_("this handover has already been started or cancelled"))
        plan = allocation_plan(
            from_guides=from_guides,
            mode=mode,
            takers=takers,
            store=store,
            max_per_guide=max_per_guide,
            csv_data=csv_data,
            include_chats=include_chats,
        )
        if not plan.items:
            raise HandoverInputError(
                _("these guides have no customers or group chats to hand over")
            )
        # Proposals of the same guides are superseded by this handover.
        open_proposals = Handover.objects.filter(
            status=Handover.Status.PROPOSED, from_guides__in=list(from_guides)
        )
        if proposal is not None:
            open_proposals = open_proposals.exclude(pk=proposal.pk)
        open_proposals.update(status=Handover.Status.CANCELLED, note="superseded")
        handover = proposal or Handover(trigger=trigger, created_by=_actor_label(actor))
        handover.kind = plan.kind
        handover.status = Handover.Status.SENDING
        handover.mode = mode
        handover.store = store
        handover.max_per_guide = max_per_guide
        handover.message = _clean_message(plan.kind, message)
        handover.include_chats = include_chats
        handover.started_at = timezone.now()
        handover.start_after = None
        if proposal is not None and actor is not None:
            handover.created_by = _actor_label(actor)
        handover.save()
        handover.from_guides.set(list(from_guides))
        handover.takers.set([load.guide for load in plan.takers.values()])
        _items_create(handover, plan)
        audit_record(
            action="handover.started",
            actor=actor,
            target=handover,
            detail={
                "kind": plan.kind,
                "mode": mode,
                "from": [g.userid for g in from_guides],
                **plan.counts(),
            },
            request=request,
        )
        _enqueue_send(handover)
    return handover


def _items_create(handover: Handover, plan: AllocationPlan) -> None:
    now = timezone.now()
    rows = [
        TransferItem(
            handover=handover,
            target=p.target,
            customer_id=p.customer_id,
            chat_id=p.chat_id,
            external_id=p.external_id,
            from_guide_id=p.from_guide_id,
            to_guide_id=p.to_guide_id,
            status=p.status,
            error=p.error,
            finished_at=None if p.status == TransferItem.Status.PENDING else now,
        )
        # one guide pair's items together: a batch is then a run of consecutive ids
        for p in sorted(
            plan.items, key=lambda p: (p.target, p.from_guide_id, p.to_guide_id or 0, p.external_id)
        )
    ]
    TransferItem.objects.bulk_create(rows, batch_size=5000)


def handover_propose(
    *, guide: Guide, trigger: str = Handover.Trigger.CALLBACK, at: datetime | None = None
) -> Handover | None:
    """A departed guide with customers or group chats gets a proposed handover (once);
    with automatic start on, it starts after the tenant's grace period."""
    if guide.status != Guide.Status.DEPARTED:
        return None
    has_work = (
        Relation.objects.filter(guide=guide, status=Relation.Status.ACTIVE).exists()
        or GroupChat.objects.filter(owner=guide)
        .exclude(status__in=[GroupChat.Status.DISMISSED, GroupChat.Status.HANDOVER_DONE])
        .exists()
    )
    if not has_work:
        return None
    with transaction.atomic():
        Guide.objects.select_for_update().get(pk=guide.pk)  # one proposal per guide
        if Handover.objects.filter(from_guides=guide, status__in=Handover.OPEN_STATUSES).exists():
            return None
        options = handover_settings()
        start_after = None
        if options.auto_start:
            start_after = (at or timezone.now()) + timedelta(hours=options.grace_hours)
        handover = Handover.objects.create(
            kind=Handover.Kind.RESIGNED,
            trigger=trigger,
            status=Handover.Status.PROPOSED,
            start_after=start_after,
            mode=Handover.Mode.EVEN_STORE,
            max_per_guide=options.max_per_guide,
        )
        handover.from_guides.set([guide])
    return handover


def proposals_start_due(*, now: datetime | None = None) -> list[int]:
    """Proposals whose grace period is over start with the tenant's defaults (evenly among
    the guides of the departed guide's store); one that cannot stays proposed, with why."""
    now = now or timezone.now()
    started = []
    due = Handover.objects.filter(
        status=Handover.Status.PROPOSED, start_after__isnull=False, start_after__lte=now
    )
    for proposal in due:
        guides = list(proposal.from_guides.all())
        mode = proposal.mode or Handover.Mode.EVEN_STORE
        try:
            plan = allocation_plan(
                from_guides=guides, mode=mode, max_per_guide=proposal.max_per_guide
            )
            if not plan.customers_allocated and not plan.chats_allocated:
                reasons = sorted({item.error for item in plan.items if item.error})
                raise HandoverInputError(
                    _("no takeover guide could be found: %(reasons)s")
                    % {"reasons": ", ".join(reason_text(r) for r in reasons) or "—"}
                )
            handover = handover_start(
                from_guides=guides,
                mode=mode,
                max_per_guide=proposal.max_per_guide,
                trigger=proposal.trigger,
                proposal=proposal,
            )
        except HandoverInputError as exc:
            Handover.objects.filter(pk=proposal.pk).update(start_after=None, note=str(exc)[:300])
            continue
        started.append(handover.pk)
    return started


def handover_cancel(
    *, handover: Handover, actor: Any = None, request: HttpRequest | None = None
) -> int:
    """Stop a handover: items not yet sent to WeCom are cancelled (those WeCom already has
    go on there: WeCom offers no way to take a transfer back). Returns items cancelled."""
    with transaction.atomic():
        handover = Handover.objects.select_for_update().get(pk=handover.pk)
        if handover.status not in Handover.OPEN_STATUSES:
            raise HandoverInputError(_("this handover is already over"))
        cancelled = handover.items.filter(status=TransferItem.Status.PENDING).update(
            status=TransferItem.Status.CANCELLED, finished_at=timezone.now()
        )
        waiting = handover.items.filter(
            status__in=[TransferItem.Status.SENDING, TransferItem.Status.WAITING]
        ).exists()
        handover.status = Handover.Status.WAITING if waiting else Handover.Status.CANCELLED
        handover.finished_at = None if waiting else timezone.now()
        handover.save(update_fields=["status", "finished_at"])
        audit_record(
            action="handover.cancelled",
            actor=actor,
            target=handover,
            detail={"items_cancelled": cancelled},
            request=request,
        )
    return cancelled


def items_reallocate(
    *,
    handover: Handover,
    takers: Sequence[Guide],
    actor: Any = None,
    request: HttpRequest | None = None,
) -> int:
    """Items that failed for a reason another taker can fix (taker full, no taker, a WeCom
    failure) go again, evenly among `takers`. Returns how many were re-allocated."""
    from handover.allocation import _loads, _named_takers

    with transaction.atomic():
        handover = Handover.objects.select_for_update().get(pk=handover.pk)
        if handover.status == Handover.Status.PROPOSED:
            raise HandoverInputError(_("start the handover first"))
        if handover.status == Handover.Status.CANCELLED:
            raise HandoverInputError(_("this handover was cancelled: start a new one"))
        from_ids = set(handover.from_guides.values_list("pk", flat=True))
        chosen = _named_takers(takers, from_ids)
        if not chosen:
            raise HandoverInputError(_("choose the takeover guide"))
        items = list(
            handover.items.filter(status__in=TransferItem.REALLOCATABLE)
            .exclude(
                # WeCom's own refusals that another taker cannot fix
                errcode__in=[40096, 84061, 40128]
            )
            .order_by("id")
        )
        # Never two in-flight items for one customer of a guide.
        busy = set(
            TransferItem.objects.filter(
                from_guide_id__in=from_ids, status__in=TransferItem.IN_FLIGHT
            ).values_list("target", "from_guide_id", "external_id")
        )
        items = [i for i in items if (i.target, i.from_guide_id, i.external_id) not in busy]
        loads = list(_loads(chosen, handover.max_per_guide).values())
        customers = [i for i in items if i.target == TransferItem.Target.CUSTOMER]
        chats = [i for i in items if i.target == TransferItem.Target.CHAT]
        moved = 0
        for group, use_room in ((customers, True), (chats, False)):
            rooms = [load.room if use_room else None for load in loads]
            for item, index in zip(group, spread_evenly(len(group), rooms), strict=True):
                if index is None:
                    continue
                item.history = [
                    *item.history,
                    {
                        "to_guide": item.to_guide_id,
                        "status": item.status,
                        "errcode": item.errcode,
                        "error": item.error,
                    },
                ]
                item.to_guide_id = loads[index].guide.pk
                item.status, item.errcode, item.error = TransferItem.Status.PENDING, None, ""
                item.finished_at = item.sent_at = item.takeover_time = None
                item.batch, item.claimed_until = "", None
                moved += 1
        TransferItem.objects.bulk_update(
            [i for i in items if i.status == TransferItem.Status.PENDING],
            [
                "history",
                "to_guide",
                "status",
                "errcode",
                "error",
                "finished_at",
                "sent_at",
                "takeover_time",
                "batch",
                "claimed_until",
            ],
            batch_size=2000,
        )
        if moved:
            handover.status, handover.finished_at = Handover.Status.SENDING, None
            handover.save(update_fields=["status", "finished_at"])
            handover.takers.add(*chosen)
            audit_record(
                action="handover.reallocated",
                actor=actor,
                target=handover,
                detail={"items": moved, "to": [g.userid for g in chosen]},
                request=request,
            )
            _enqueue_send(handover)
    return moved


# --- triggers ----------------------------------------------------------------------------


def guide_departed_propose(*, userid: str, at: datetime) -> Handover | None:
    """After the contact book marked the member departed (delete_user callback)."""
    guide = Guide.objects.filter(userid=userid).first()
    if guide is None:
        return None
    return handover_propose(guide=guide, trigger=Handover.Trigger.CALLBACK, at=at)


def unassigned_check(*, client: WeComClient | None = None) -> dict[str, int]:
    """Read WeCom's list of departed members' customers not yet handed over: a member the
    platform still thinks active is marked departed and gets a proposal."""
    from contacts import incremental

    client = client or wecom_client(app_kind="customer_contact", priority="bulk")
    departed: dict[str, int] = {}
    cursor = ""
    while True:
        response = client.post(
            "externalcontact/get_unassigned_list",
            data={"page_size": UNASSIGNED_PAGE, "cursor": cursor},
        )
        for row in response.get("info") or []:
            userid = str(row.get("handover_userid") or "")
            if userid:
                departed.setdefault(userid, int(row.get("dimission_time") or 0))
        cursor = str(response.get("next_cursor") or "")
        if response.get("is_last", True) or not cursor:
            break
    marked = proposed = 0
    for userid, dimission in departed.items():
        guide = Guide.objects.filter(userid=userid).first()
        if guide is None:
            continue
        if guide.status != Guide.Status.DEPARTED:
            at = (
                datetime.fromtimestamp(dimission, tz=timezone.get_current_timezone())
                if dimission
                else timezone.now()
            )
            incremental.guide_departed(userid=userid, at=at)
            guide.refresh_from_db()
            marked += 1
        if handover_propose(guide=guide, trigger=Handover.Trigger.UNASSIGNED) is not None:
            proposed += 1
    options = handover_settings()
    options.unassigned_checked_at = timezone.now()
    options.save(update_fields=["unassigned_checked_at"])
    return {"members": len(departed), "marked_departed": marked, "proposed": proposed}


def departed_guides_queue() -> Any:
    """Departed guides still holding customers or group chats, most at risk first."""
    at_risk = (
        Relation.objects.filter(guide=OuterRef("pk"), status=Relation.Status.ACTIVE)
        .order_by()
        .values("guide")
        .annotate(n=Count("id"))
        .values("n")
    )
    chats = (
        GroupChat.objects.filter(owner=OuterRef("pk"))
        .exclude(status__in=[GroupChat.Status.DISMISSED, GroupChat.Status.HANDOVER_DONE])
        .order_by()
        .values("owner")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        Guide.objects.filter(status=Guide.Status.DEPARTED)
        .annotate(
            at_risk=Coalesce(Subquery(at_risk), 0),
            chats_owned=Coalesce(Subquery(chats), 0),
        )
        .filter(Q(at_risk__gt=0) | Q(chats_owned__gt=0))
        .order_by("-at_risk", "-chats_owned", "pk")
    )
