"""Console pages of handovers (离职继承 / 在职继承): the departed guides' queue with proposals
and the handovers list, the wizard (preview without writing, then confirm), a handover's
page with its progress, items, CSV export, cancel and re-allocation, and the settings.

Writes go through handover.services; what they refuse (HandoverInputError) comes back as a
message on the page, never a 500. Every role reads these pages; admins and operators start,
cancel, re-allocate and change the settings.
"""

import csv
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.permissions import role_required
from accounts.services import audit_record
from contacts.exports import BOM, FORMULA_PREFIXES
from contacts.models import Guide
from contacts.selectors import InvalidCursor, keyset_page
from handover.allocation import (
    AllocationPlan,
    HandoverInputError,
    allocation_plan,
    reason_text,
)
from handover.forms import (
    HandoverForm,
    HandoverSettingsForm,
    ItemFilterForm,
    ReallocateForm,
    guide_refs,
)
from handover.models import Handover, HandoverSettings, TransferItem
from handover.selectors import (
    departed_guide_queue,
    handover_get,
    handover_item_counts,
    handover_list,
    handover_rows,
    handover_target_counts,
    proposal_list,
    transfer_item_list,
)
from handover.services import (
    handover_cancel,
    handover_settings,
    handover_start,
    items_reallocate,
)

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
CAN_WRITE = (User.Role.ADMIN, User.Role.OPERATOR)
QUEUE_SHOWN = 100
HANDOVERS_PAGE_SIZE = 30
ITEMS_PAGE_SIZE = 50
CSV_PROBLEMS_SHOWN = 50
CSV_KEPT_SECONDS = 3600
POLL_SENDING_MS = 3000
POLL_WAITING_MS = 30000
RUNNING = (Handover.Status.SENDING, Handover.Status.WAITING)


def _can_write(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in CAN_WRITE


def _handover_or_404(pk: int) -> Handover:
    try:
        return handover_get(handover_id=pk)
    except Handover.DoesNotExist:
        raise Http404 from None


# --- queue and list -------------------------------------------------------------------------


@role_required(*ANY_ROLE)
def handovers(request: HttpRequest) -> HttpResponse:
    """Departed guides still holding customers, proposals, and the handovers (keyset pages)."""
    proposals = list(proposal_list())
    proposal_of: dict[int, Handover] = {}
    for proposal in proposals:
        for guide in proposal.from_guides.all():
            proposal_of.setdefault(guide.pk, proposal)
    queue = [
        {"guide": guide, "proposal": proposal_of.get(guide.pk)}
        for guide in departed_guide_queue()[:QUEUE_SHOWN]
    ]
    errors: list[str] = []
    started = handover_list().exclude(status=Handover.Status.PROPOSED)
    try:
        page = keyset_page(started, after=request.GET.get("after", ""), size=HANDOVERS_PAGE_SIZE)
    except InvalidCursor:
        errors.append(_("That page link is no longer valid: showing the first page."))
        page = keyset_page(started, size=HANDOVERS_PAGE_SIZE)
    return render(
        request,
        "handover/handovers.html",
        {
            "queue": queue,
            "queue_shown": QUEUE_SHOWN,
            "proposals": proposals,
            "page": page,
            "rows": handover_rows(page.items),
            "errors": errors,
            "can_write": _can_write(request),
            "active_nav": "handover",
        },
    )


# --- the wizard -----------------------------------------------------------------------------


def _csv_key(token: str) -> str:
    # The cache's key function puts the tenant's schema in front of every key.
    return f"handover:csv:{token}"


def _csv_data(request: HttpRequest, form: HandoverForm) -> tuple[bytes | None, str]:
    """The uploaded CSV (kept for the confirmation) or the one kept from the preview."""
    upload = form.cleaned_data.get("csv_file")
    if upload is not None:
        data = upload.read()
        token = secrets.token_urlsafe(16)
        cache.set(_csv_key(token), data, CSV_KEPT_SECONDS)
        return data, token
    token = form.cleaned_data.get("csv_token") or ""
    if token:
        data = cache.get(_csv_key(token))
        if data is not None:
            return data, token
    return None, ""


def _proposal(pk: int | None) -> Handover | None:
    if pk is None:
        return None
    return Handover.objects.filter(pk=pk, status=Handover.Status.PROPOSED).first()


def _initial(request: HttpRequest) -> tuple[dict[str, Any], Handover | None]:
    options = handover_settings()
    initial: dict[str, Any] = {
        "mode": Handover.Mode.EVEN_STORE,
        "include_chats": True,
        "max_per_guide": options.max_per_guide,
        "message": options.onjob_message,
    }
    proposal = None
    proposal_ref = request.GET.get("proposal", "")
    guide_ref = request.GET.get("guide", "")
    if proposal_ref.isdigit() and len(proposal_ref) <= 18:
        proposal = _proposal(int(proposal_ref))
        if proposal is None:
            messages.error(request, _("This proposal has already been started or cancelled."))
        else:
            initial["proposal"] = proposal.pk
            initial["from_guides"] = guide_refs(list(proposal.from_guides.order_by("pk")))
            initial["mode"] = proposal.mode or Handover.Mode.EVEN_STORE
            initial["max_per_guide"] = proposal.max_per_guide
            initial["include_chats"] = proposal.include_chats
    elif guide_ref.isdigit() and len(guide_ref) <= 18:
        guide = Guide.objects.filter(pk=int(guide_ref)).first()
        if guide is not None:
            initial["from_guides"] = guide.userid
    return initial, proposal


def _plan_arguments(form: HandoverForm, csv_data: bytes | None) -> dict[str, Any]:
    data = form.cleaned_data
    mode = data["mode"]
    return {
        "from_guides": data["from_guides"],
        "mode": mode,
        "takers": data["takers"] if mode in (Handover.Mode.ONE, Handover.Mode.EVEN_LIST) else [],
        "store": data["store"] if mode == Handover.Mode.EVEN_CHOSEN_STORE else None,
        "max_per_guide": data["max_per_guide"],
        "csv_data": csv_data if mode == Handover.Mode.CSV else None,
        "include_chats": data["include_chats"],
    }


def plan_summary(plan: AllocationPlan) -> dict[str, Any]:
    """What the preview shows: per taker what they have and receive, counts per outcome,
    why items are left out, and the CSV file's problems."""
    counts = plan.counts()
    S, T = TransferItem.Status, TransferItem.Target
    reasons: Counter[tuple[str, str]] = Counter(
        (item.target, item.error) for item in plan.items if item.status == S.UNALLOCATED
    )
    takers = sorted(plan.takers.values(), key=lambda load: (load.guide.name, load.guide.pk))
    return {
        "kind": plan.kind,
        "kind_display": Handover.Kind(plan.kind).label,
        "from_guides": plan.from_guides,
        "takers": [
            {
                "guide": load.guide,
                "current": load.current,
                "customers": load.customers,
                "chats": load.chats,
                "after": load.current + load.customers,
            }
            for load in takers
        ],
        "customers_to_send": counts.get(f"{T.CUSTOMER}:{S.PENDING}", 0),
        "chats_to_send": counts.get(f"{T.CHAT}:{S.PENDING}", 0),
        "customers_unallocated": counts.get(f"{T.CUSTOMER}:{S.UNALLOCATED}", 0),
        "chats_unallocated": counts.get(f"{T.CHAT}:{S.UNALLOCATED}", 0),
        "customers_skipped": counts.get(f"{T.CUSTOMER}:{S.SKIPPED}", 0),
        "chats_skipped": counts.get(f"{T.CHAT}:{S.SKIPPED}", 0),
        "in_flight": plan.in_flight,
        "reasons": [
            {
                "target": T(target).label,
                "reason": reason_text(error) if error else "—",
                "count": n,
            }
            for (target, error), n in sorted(reasons.items())
        ],
        "csv_problems": [
            {"line": p.line or "", "value": p.value, "reason": reason_text(p.reason)}
            for p in plan.csv_problems[:CSV_PROBLEMS_SHOWN]
        ],
        "csv_problems_count": len(plan.csv_problems),
        "total": len(plan.items),
    }


@role_required(*CAN_WRITE)
def handover_new(request: HttpRequest) -> HttpResponse:
    """The wizard. "Preview" shows the plan and writes nothing; "Confirm" starts it."""
    summary = None
    proposal = None
    if request.method == "POST":
        form = HandoverForm(request.POST, request.FILES)
        if form.is_valid():
            proposal = _proposal(form.cleaned_data.get("proposal"))
            if form.cleaned_data.get("proposal") and proposal is None:
                form.add_error(None, _("This proposal has already been started or cancelled."))
            else:
                csv_data, token = _csv_data(request, form)
                data = request.POST.copy()
                data["csv_token"] = token  # the confirmation reuses the file
                form.data = data
                arguments = _plan_arguments(form, csv_data)
                try:
                    if request.POST.get("action") == "confirm":
                        handover = handover_start(
                            **arguments,
                            message=form.cleaned_data["message"],
                            trigger=Handover.Trigger.OPERATOR,
                            proposal=proposal,
                            actor=request.user,
                            request=request,
                        )
                    else:
                        summary = plan_summary(allocation_plan(**arguments))
                except HandoverInputError as exc:
                    form.add_error(None, str(exc))
                else:
                    if summary is None:
                        if token:
                            cache.delete(_csv_key(token))
                        messages.success(
                            request,
                            _("Handover #%(id)s started: its customers are being sent to WeCom.")
                            % {"id": handover.pk},
                        )
                        return redirect("handover:detail", pk=handover.pk)
    else:
        initial, proposal = _initial(request)
        form = HandoverForm(initial=initial)
    return render(
        request,
        "handover/handover_new.html",
        {
            "form": form,
            "summary": summary,
            "proposal": proposal,
            "active_nav": "handover",
        },
    )


# --- a handover -----------------------------------------------------------------------------


def progress_data(handover: Handover, counts: dict[str, int]) -> dict[str, Any]:
    total, final = counts["total"], counts["final"]
    return {
        "id": handover.pk,
        "status": handover.status,
        "status_display": handover.get_status_display(),
        "running": handover.status in RUNNING,
        "total": total,
        "final": final,
        "percent": 100 if not total else round(100 * final / total),
        "counts": {s: counts[s] for s in TransferItem.Status.values},
    }


@role_required(*ANY_ROLE)
def handover_detail(request: HttpRequest, pk: int) -> HttpResponse:
    handover = _handover_or_404(pk)
    counts = handover_item_counts([handover.pk])[handover.pk]
    filter_form = ItemFilterForm(request.GET)
    items = transfer_item_list(handover_id=handover.pk, statuses=filter_form.statuses())
    page = Paginator(items, ITEMS_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {"item": item, "reason": reason_text(item.error) if item.error else ""}
        for item in page.object_list
    ]
    reallocatable = sum(counts[s] for s in TransferItem.REALLOCATABLE)
    can_write = _can_write(request)
    return render(
        request,
        "handover/handover_detail.html",
        {
            "handover": handover,
            "from_guides": list(handover.from_guides.all()),
            "takers": list(handover.takers.all()),
            "targets": handover_target_counts(handover_id=handover.pk),
            "progress": progress_data(handover, counts),
            "statuses": [
                (value, label, counts[value]) for value, label in TransferItem.Status.choices
            ],
            "filter_form": filter_form,
            "page": page,
            "rows": rows,
            "reallocatable": reallocatable,
            "can_cancel": can_write and handover.status in Handover.OPEN_STATUSES,
            "can_reallocate": can_write
            and reallocatable > 0
            and handover.status != Handover.Status.PROPOSED,
            "reallocate_form": ReallocateForm(),
            "can_start": can_write and handover.status == Handover.Status.PROPOSED,
            "can_export": can_write,
            "poll_ms": POLL_SENDING_MS
            if handover.status == Handover.Status.SENDING
            else POLL_WAITING_MS,
            "progress_text": _("%(done)s / %(total)s items final"),
            "active_nav": "handover",
        },
    )


@require_GET
@role_required(*ANY_ROLE)
def handover_progress(request: HttpRequest, pk: int) -> JsonResponse:
    handover = Handover.objects.filter(pk=pk).first()
    if handover is None:
        raise Http404
    counts = handover_item_counts([handover.pk])[handover.pk]
    return JsonResponse(progress_data(handover, counts))


@role_required(*CAN_WRITE)
def handover_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation (WeCom cannot take back what it has); POST: cancel."""
    handover = _handover_or_404(pk)
    if handover.status not in Handover.OPEN_STATUSES:
        messages.error(request, _("This handover is already over."))
        return redirect("handover:detail", pk=handover.pk)
    if request.method == "POST":
        try:
            cancelled = handover_cancel(handover=handover, actor=request.user, request=request)
        except HandoverInputError as exc:
            messages.error(request, str(exc))
        else:
            handover.refresh_from_db()
            if handover.status == Handover.Status.WAITING:
                text = ngettext(
                    "Handover #%(id)s cancelled: %(n)s item not yet sent was cancelled; "
                    "those WeCom already has go on there.",
                    "Handover #%(id)s cancelled: %(n)s items not yet sent were cancelled; "
                    "those WeCom already has go on there.",
                    cancelled,
                )
            else:
                text = ngettext(
                    "Handover #%(id)s cancelled: %(n)s item not yet sent was cancelled.",
                    "Handover #%(id)s cancelled: %(n)s items not yet sent were cancelled.",
                    cancelled,
                )
            messages.success(request, text % {"id": handover.pk, "n": cancelled})
        return redirect("handover:detail", pk=handover.pk)
    counts = handover_item_counts([handover.pk])[handover.pk]
    return render(
        request,
        "handover/handover_cancel.html",
        {
            "handover": handover,
            "pending": counts[TransferItem.Status.PENDING],
            "in_wecom": counts[TransferItem.Status.SENDING] + counts[TransferItem.Status.WAITING],
            "active_nav": "handover",
        },
    )


@require_POST
@role_required(*CAN_WRITE)
def handover_reallocate(request: HttpRequest, pk: int) -> HttpResponse:
    handover = _handover_or_404(pk)
    form = ReallocateForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(
                    request, _("Nothing was re-allocated: %(reason)s") % {"reason": error}
                )
        return redirect("handover:detail", pk=handover.pk)
    try:
        moved = items_reallocate(
            handover=handover,
            takers=form.cleaned_data["takers"],
            actor=request.user,
            request=request,
        )
    except HandoverInputError as exc:
        messages.error(request, _("Nothing was re-allocated: %(reason)s") % {"reason": exc})
    else:
        if moved:
            messages.success(
                request,
                ngettext(
                    "%(n)s item re-allocated: it is being sent to WeCom again.",
                    "%(n)s items re-allocated: they are being sent to WeCom again.",
                    moved,
                )
                % {"n": moved},
            )
        else:
            messages.error(
                request,
                _(
                    "Nothing was re-allocated: no item can go to these guides (they have no "
                    "room, or the items are refusals another guide cannot fix)."
                ),
            )
    return redirect("handover:detail", pk=handover.pk)


# --- CSV export -----------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def item_csv_lines(handover_id: int, *, schema: str, language: str | None) -> Iterator[str]:
    """Every item of a handover as CSV text, read while the response streams (schema and
    language captured by the view)."""
    writer = csv.writer(_Echo())
    with schema_context(schema), translation.override(language):
        targets = dict(TransferItem.Target.choices)
        statuses = dict(TransferItem.Status.choices)
        header = [
            _("Type"),
            _("Customer or group chat"),
            _("External userid or chat id"),
            _("From guide userid"),
            _("From guide"),
            _("Takeover guide userid"),
            _("Takeover guide"),
            _("Status"),
            _("Reason"),
            _("WeCom errcode"),
            _("Sent at"),
            _("Takeover time"),
            _("Finished at"),
        ]
        yield BOM + writer.writerow(header)
        items = transfer_item_list(handover_id=handover_id)
        for item in items.iterator(chunk_size=2000):
            if item.target == TransferItem.Target.CHAT:
                name = item.chat.name if item.chat else ""
            else:
                name = item.customer.name if item.customer else ""
            cells = [
                str(targets.get(item.target, item.target)),
                name,
                item.external_id,
                item.from_guide.userid,
                item.from_guide.name,
                item.to_guide.userid if item.to_guide else "",
                item.to_guide.name if item.to_guide else "",
                str(statuses.get(item.status, item.status)),
                reason_text(item.error) if item.error else "",
                "" if item.errcode is None else item.errcode,
                _when(item.sent_at),
                _when(item.takeover_time),
                _when(item.finished_at),
            ]
            yield writer.writerow([_cell(cell) for cell in cells])


# role_required is typed for HttpResponse; a streamed response passes through it unchanged.
@require_GET
@role_required(*CAN_WRITE)  # type: ignore[arg-type]
def handover_items_csv(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Every item with its guides, status and reason, as CSV (streamed, UTF-8 with BOM)."""
    if not Handover.objects.filter(pk=pk).exists():
        raise Http404
    response = StreamingHttpResponse(
        item_csv_lines(
            pk,
            schema=getattr(connection, "schema_name", "public"),
            language=translation.get_language(),
        ),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"handover-{pk}-{timezone.localtime():%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- settings -------------------------------------------------------------------------------


def _settings_save(*, form: HandoverSettingsForm, request: HttpRequest) -> HandoverSettings:
    """Save the settings and record what changed in the audit log."""
    saved: HandoverSettings = form.save()
    audit_record(
        action="handover.settings_changed",
        actor=request.user,
        target=saved,
        detail={name: form.cleaned_data[name] for name in form.changed_data},
        request=request,
    )
    return saved


@role_required(*ANY_ROLE)
def handover_settings_view(request: HttpRequest) -> HttpResponse:
    """Automatic start, grace period, maximum per guide, the on-duty message. Viewers read."""
    can_write = _can_write(request)
    options = handover_settings()
    if request.method == "POST":
        if not can_write:
            return render(request, "console/forbidden.html", status=403)
        form = HandoverSettingsForm(request.POST, instance=options)
        if form.is_valid():
            _settings_save(form=form, request=request)
            messages.success(request, _("Handover settings saved."))
            return redirect("handover:settings")
    else:
        form = HandoverSettingsForm(instance=options)
    if not can_write:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "handover/settings.html",
        {
            "form": form,
            "options": options,
            "can_write": can_write,
            "active_nav": "handover",
        },
    )
