"""Console pages of group sends (群发): the list, the new-send wizard with a phone preview, a
send's page (its plan before confirming, then a live progress bar, each guide's template and
every customer's result with a CSV), and the settings.

Writes go through broadcast.services and broadcast.planning; what they or WeCom refuse comes
back as a message on the page, never a 500. Every role reads these pages; admins and
operators create, confirm, cancel and remind.
"""

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.permissions import role_required
from accounts.services import audit_record
from broadcast.dispatch import GUIDE_NAME
from broadcast.forms import BroadcastForm, BroadcastSettingsForm, DeliveryFilterForm
from broadcast.models import Broadcast, BroadcastSettings, Chunk, Delivery
from broadcast.planning import BroadcastInputError, broadcast_plan_start, broadcast_settings
from broadcast.selectors import (
    PLAN_STATUSES,
    broadcast_get,
    broadcast_list,
    broadcast_progress,
    chunk_list,
    delivery_export,
    delivery_list,
)
from broadcast.services import (
    broadcast_cancel,
    broadcast_confirm,
    broadcast_create,
    broadcast_remind,
    dispatch_time,
)
from contacts.exports import BOM, FORMULA_PREFIXES
from contacts.models import Guide
from contacts.selectors import InvalidCursor, keyset_page
from scrm.wecom.client import WeComNotConnected
from scrm.wecom.errors import WeComError
from tagging.models import Segment
from tagging.segments import SegmentError, segment_clean, segment_count
from tagging.selectors import tags_by_ids
from tagging.views import failure_message as wecom_failure_message

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
CAN_WRITE = (User.Role.ADMIN, User.Role.OPERATOR)
PAGE_SIZE = 50
POLL_MS_FAST = 1000  # while the templates are created
POLL_MS = 2000
SAMPLE_GUIDE_NAME = "小美"
WeComFailure = (WeComError, WeComNotConnected)


def _can_write(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in CAN_WRITE


def _broadcast_or_404(pk: int) -> Broadcast:
    try:
        return broadcast_get(broadcast_id=pk)
    except Broadcast.DoesNotExist:
        raise Http404 from None


def failure_message(exc: Exception) -> str:
    if isinstance(exc, BroadcastInputError):
        return _("Nothing was changed: %(reason)s") % {"reason": exc}
    return wecom_failure_message(exc)


def _count_rows(counts: dict[str, int], statuses: Any) -> list[tuple[str, str, int]]:
    labels = dict(Delivery.Status.choices)
    return [(s, str(labels[s]), counts.get(s, 0)) for s in statuses]


def _audience_label(broadcast: Broadcast) -> str:
    if broadcast.audience == Broadcast.Audience.SEGMENT:
        name = broadcast.segment.name if broadcast.segment else _("(deleted)")
        return _("Segment “%(name)s”") % {"name": name}
    if broadcast.audience == Broadcast.Audience.CSV:
        return _("CSV file %(name)s (%(n)s ids)") % {
            "name": broadcast.file_name,
            "n": len(broadcast.audience_ids),
        }
    if broadcast.audience == Broadcast.Audience.CHATS:
        return _("Group chats: %(n)s") % {"n": len(broadcast.audience_ids)}
    return _("Chosen customers: %(n)s") % {"n": len(broadcast.audience_ids)}


def _summary(counts: dict[str, int]) -> dict[str, int]:
    """The list's columns: planned (handed to guides), sent, not sent, excluded."""
    excluded = sum(counts.get(s, 0) for s in Delivery.EXCLUDED)
    not_sent = sum(
        counts.get(s, 0)
        for s in (
            Delivery.Status.NOT_FRIEND,
            Delivery.Status.CAPPED,
            Delivery.Status.NOT_SENT,
            Delivery.Status.CANCELLED,
            Delivery.Status.FAILED,
        )
    )
    return {
        "planned": sum(counts.values()) - excluded,
        "sent": counts.get(Delivery.Status.SENT, 0),
        "not_sent": not_sent,
        "excluded": excluded,
    }


# --- the list -----------------------------------------------------------------------------


@role_required(*ANY_ROLE)
def broadcasts(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    try:
        page = keyset_page(broadcast_list(), after=request.GET.get("after", ""), size=PAGE_SIZE)
    except InvalidCursor:
        errors.append(_("That page link is no longer valid: showing the first page."))
        page = keyset_page(broadcast_list(), size=PAGE_SIZE)
    rows = [
        {"broadcast": b, "audience": _audience_label(b), **_summary(b.counts)} for b in page.items
    ]
    return render(
        request,
        "broadcast/broadcasts.html",
        {
            "page": page,
            "rows": rows,
            "errors": errors,
            "can_write": _can_write(request),
            "active_nav": "broadcasts",
        },
    )


# --- the wizard ---------------------------------------------------------------------------


def _sample_guide_name() -> str:
    guide = Guide.objects.filter(status=Guide.Status.ACTIVE).order_by("id").first()
    return guide.name if guide is not None and guide.name else SAMPLE_GUIDE_NAME


@role_required(*CAN_WRITE)
def broadcast_new(request: HttpRequest) -> HttpResponse:
    """One page: content (with a phone preview), audience, sender, timing. Saving creates
    the send and starts planning; its page then shows the plan to confirm."""
    if request.method == "POST":
        form = BroadcastForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                with transaction.atomic():
                    broadcast = broadcast_create(data=form.to_data(), actor=request.user)
                    broadcast_plan_start(broadcast=broadcast)
            except BroadcastInputError as exc:
                form.add_error(None, str(exc))
            else:
                text = _("Group send “%(name)s” saved: planning who receives it.")
                messages.success(request, text % {"name": broadcast.name})
                if form.skipped_lines:
                    messages.warning(
                        request,
                        _("Lines of the file that were not external_userids, skipped: %(n)s.")
                        % {"n": form.skipped_lines},
                    )
                return redirect("broadcast:detail", pk=broadcast.pk)
    else:
        form = BroadcastForm(initial={"segment": request.GET.get("segment") or None})
    return render(
        request,
        "broadcast/broadcast_form.html",
        {
            "form": form,
            "sample_guide": _sample_guide_name(),
            "placeholder": GUIDE_NAME,
            "active_nav": "broadcasts",
        },
    )


@require_GET
@role_required(*ANY_ROLE)
def segment_count_view(request: HttpRequest) -> JsonResponse:
    """The live count of a saved segment, for the wizard: {"count"} or {"error"} (400)."""
    raw = request.GET.get("segment", "")
    segment = Segment.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    if segment is None:
        return JsonResponse({"error": _("No such segment.")}, status=400)
    try:
        count = segment_count(segment_clean(segment.definition, check_exists=False))
    except SegmentError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"count": count})


# --- a group send's page ------------------------------------------------------------------


def _progress_json(broadcast: Broadcast) -> dict[str, Any]:
    progress = broadcast_progress(broadcast)
    if progress["phase"] == "templates":
        text = _("Messages created in WeCom: %(done)s / %(total)s")
    else:
        text = _("Customers with a final result: %(done)s / %(total)s")
    progress["text"] = text % {"done": progress["done"], "total": progress["total"]}
    progress["poll_ms"] = (
        POLL_MS_FAST if broadcast.status == Broadcast.Status.DISPATCHING else POLL_MS
    )
    return progress


def _chunk_rows(broadcast: Broadcast) -> list[Chunk]:
    return list(chunk_list(broadcast=broadcast))


@role_required(*ANY_ROLE)
def broadcast_detail(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _broadcast_or_404(pk)
    progress = _progress_json(broadcast)
    filters = DeliveryFilterForm(request.GET)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    errors: list[str] = []
    deliveries = delivery_list(broadcast=broadcast, status=status or None)
    try:
        page = keyset_page(deliveries, after=request.GET.get("after", ""), size=PAGE_SIZE)
    except InvalidCursor:
        errors.append(_("That page link is no longer valid: showing the first page."))
        page = keyset_page(deliveries, size=PAGE_SIZE)
    counts = progress["counts"]
    planned = counts.get(Delivery.Status.PLANNED, 0)
    ready = broadcast.status == Broadcast.Status.READY
    known_tags = tags_by_ids(broadcast_settings().do_not_disturb_tag_ids) if ready else {}
    return render(
        request,
        "broadcast/broadcast_detail.html",
        {
            "broadcast": broadcast,
            "audience": _audience_label(broadcast),
            "progress": progress,
            "plan_rows": _count_rows(counts, PLAN_STATUSES),
            "result_rows": [
                row
                for row in _count_rows(counts, Delivery.Status.values)
                if row[2] and row[0] != Delivery.Status.PLANNED
            ],
            "total": sum(counts.values()),
            "planned": planned,
            "dispatch_at": dispatch_time(broadcast, timezone.now()) if ready else None,
            "dnd_tags": [t.name for t in known_tags.values()],
            "chunks": _chunk_rows(broadcast),
            "page": page,
            "filters": filters,
            "errors": errors,
            "anchor": "#results",
            "can_write": _can_write(request),
            "poll_url": reverse("broadcast:progress", args=[broadcast.pk]),
            "active_nav": "broadcasts",
        },
    )


@require_GET
@role_required(*ANY_ROLE)
def broadcast_progress_view(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_progress_json(_broadcast_or_404(pk)))


@require_POST
@role_required(*CAN_WRITE)
def broadcast_plan_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Plan a draft created through the API."""
    broadcast = _broadcast_or_404(pk)
    try:
        broadcast_plan_start(broadcast=broadcast)
    except BroadcastInputError as exc:
        messages.error(request, failure_message(exc))
    return redirect("broadcast:detail", pk=broadcast.pk)


@require_POST
@role_required(*CAN_WRITE)
def broadcast_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _broadcast_or_404(pk)
    try:
        confirmed = broadcast_confirm(broadcast=broadcast, actor=request.user, request=request)
    except BroadcastInputError as exc:
        messages.error(request, failure_message(exc))
    else:
        if confirmed.status == Broadcast.Status.SCHEDULED and confirmed.send_at is not None:
            at = timezone.localtime(confirmed.send_at)
            messages.success(
                request,
                _("Confirmed: the messages will be created in WeCom at %(at)s.")
                % {"at": f"{at:%Y-%m-%d %H:%M}"},
            )
        else:
            messages.success(request, _("Confirmed: the messages are being created in WeCom."))
    return redirect("broadcast:detail", pk=broadcast.pk)


@role_required(*CAN_WRITE)
def broadcast_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation; POST: cancel (what guides already sent stays sent)."""
    broadcast = _broadcast_or_404(pk)
    if request.method == "POST":
        try:
            broadcast_cancel(broadcast=broadcast, actor=request.user, request=request)
        except (BroadcastInputError, *WeComFailure) as exc:
            messages.error(request, failure_message(exc))
        else:
            messages.success(
                request, _("Group send “%(name)s” cancelled.") % {"name": broadcast.name}
            )
        return redirect("broadcast:detail", pk=broadcast.pk)
    created = broadcast.chunks.filter(status=Chunk.Status.CREATED).count()
    return render(
        request,
        "broadcast/broadcast_cancel.html",
        {"broadcast": broadcast, "created": created, "active_nav": "broadcasts"},
    )


@require_POST
@role_required(*CAN_WRITE)
def broadcast_remind_view(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _broadcast_or_404(pk)
    try:
        reminded = broadcast_remind(broadcast=broadcast, actor=request.user)
    except (BroadcastInputError, *WeComFailure) as exc:
        messages.error(request, failure_message(exc))
    else:
        if reminded:
            messages.success(request, _("Guides reminded: %(n)s.") % {"n": reminded})
        else:
            messages.warning(
                request,
                _(
                    "No guide was reminded: every guide has sent, or was already reminded "
                    "3 times in the last 24 hours (WeCom's limit)."
                ),
            )
    return redirect("broadcast:detail", pk=broadcast.pk)


@require_POST
@role_required(*CAN_WRITE)
def broadcast_refresh_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Read WeCom's results now rather than at the next periodic read."""
    from broadcast.tasks import broadcast_sync_task
    from scrm.tenant_tasks import enqueue

    broadcast = _broadcast_or_404(pk)
    if broadcast.status != Broadcast.Status.WAITING:
        messages.error(request, _("Only a group send waiting for guides has results to read."))
    else:
        enqueue(broadcast_sync_task, broadcast_id=broadcast.pk)
        messages.success(
            request, _("Reading the results from WeCom: this page updates in a moment.")
        )
    return redirect("broadcast:detail", pk=broadcast.pk)


# --- the CSV of results -------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _export_lines(broadcast: Broadcast, *, schema: str, language: str | None) -> Iterator[str]:
    """Every delivery as a CSV line, read while the response streams (the schema and the
    language are the request's, captured by the view)."""
    writer = csv.writer(_Echo())
    with schema_context(schema), translation.override(language):
        labels = dict(Delivery.Status.choices)
        header = [
            _("Customer or group chat"),
            _("Name"),
            _("Guide userid"),
            _("Guide"),
            _("Result"),
            _("Sent at"),
            _("WeCom errcode"),
            _("Reason"),
        ]
        yield BOM + writer.writerow(header)
        for delivery in delivery_export(broadcast=broadcast):
            who = delivery.customer or delivery.chat
            sent = timezone.localtime(delivery.sent_at) if delivery.sent_at else None
            cells = [
                delivery.target,
                getattr(who, "name", "") if who is not None else "",
                delivery.sender.userid if delivery.sender else "",
                delivery.sender.name if delivery.sender else "",
                str(labels.get(delivery.status, delivery.status)),
                f"{sent:%Y-%m-%d %H:%M:%S}" if sent else "",
                delivery.errcode,
                delivery.error,
            ]
            yield writer.writerow([_cell(cell) for cell in cells])


@role_required(*ANY_ROLE)  # type: ignore[arg-type]
def broadcast_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Every customer of the send with its result, as CSV (streamed, UTF-8 with a BOM for
    Excel)."""
    broadcast = _broadcast_or_404(pk)
    response = StreamingHttpResponse(
        _export_lines(
            broadcast,
            schema=getattr(connection, "schema_name", "public"),
            language=translation.get_language(),
        ),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"group-send-{broadcast.pk}-{timezone.localtime():%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- settings -----------------------------------------------------------------------------


def _settings_save(*, options: BroadcastSettings, cap: str, tag_ids: list[str], actor: Any) -> None:
    # TODO(core): belongs in broadcast.services as broadcast_settings_update.
    with transaction.atomic():
        options.frequency_cap = cap
        options.do_not_disturb_tag_ids = tag_ids
        options.save(update_fields=["frequency_cap", "do_not_disturb_tag_ids"])
        audit_record(
            action="broadcast.settings_changed",
            actor=actor,
            detail={"frequency_cap": cap, "do_not_disturb_tag_ids": tag_ids},
        )


@role_required(*ANY_ROLE)
def broadcast_settings_view(request: HttpRequest) -> HttpResponse:
    options = broadcast_settings()
    can_write = _can_write(request)
    if request.method == "POST" and not can_write:
        return render(request, "console/forbidden.html", status=403)
    if request.method == "POST":
        form = BroadcastSettingsForm(request.POST)
        if form.is_valid():
            _settings_save(
                options=options,
                cap=form.cleaned_data["frequency_cap"],
                tag_ids=list(form.cleaned_data["do_not_disturb"]),
                actor=request.user,
            )
            messages.success(request, _("Group send settings saved."))
            return redirect("broadcast:settings")
    else:
        form = BroadcastSettingsForm(
            initial={
                "frequency_cap": options.frequency_cap,
                "do_not_disturb": list(options.do_not_disturb_tag_ids),
            }
        )
    known = tags_by_ids(options.do_not_disturb_tag_ids)
    return render(
        request,
        "broadcast/settings.html",
        {
            "form": form,
            "options": options,
            "dnd_tags": [
                known[t].name if t in known else t for t in options.do_not_disturb_tag_ids
            ],
            "can_write": can_write,
            "active_nav": "broadcasts",
        },
    )
