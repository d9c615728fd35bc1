"""Console pages of channels and live codes (渠道活码): groups, channels, a channel's page
with its live state and stats, and the welcome messages outside channels.

Writes go through channels_qr.services (WeCom first), channels_qr.groups and
channels_qr.welcome_messages; what they or WeCom refuse comes back as a message on the
page, never a 500. Every role reads these pages; admins and operators change them.
"""

import csv
import io
from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.models import User
from accounts.permissions import role_required
from channels_qr.forms import (
    ChannelFilterForm,
    ChannelForm,
    ChannelGroupForm,
    StatsRangeForm,
    WelcomeMessageForm,
)
from channels_qr.groups import (
    ChannelGroupInputError,
    channel_group_create,
    channel_group_delete,
    channel_group_rename,
)
from channels_qr.models import (
    CONTACT_WAYS_PER_CORP,
    Channel,
    ChannelGroup,
    WelcomeLog,
    WelcomeMessage,
)
from channels_qr.selectors import (
    StatsBy,
    StatsRangeError,
    StatsRow,
    channel_get,
    channel_group_get,
    channel_group_list,
    channel_guides_today,
    channel_list,
    channel_stats,
    contact_ways_in_use,
    stats_by_day_chart,
    stats_range,
    stats_total,
    welcome_failures,
    welcome_message_list,
    welcome_outcome_counts,
)
from channels_qr.services import ChannelInputError, channel_create, channel_delete, channel_update
from channels_qr.welcome_messages import (
    WelcomeInputError,
    welcome_message_delete,
    welcome_message_save,
)
from contacts.exports import BOM, FORMULA_PREFIXES
from scrm.wecom.client import WeComNotConnected
from scrm.wecom.errors import WeComError
from tagging.audience_forms import WEEKDAYS
from tagging.selectors import tags_by_ids
from tagging.views import failure_message as wecom_failure_message

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
CAN_WRITE = (User.Role.ADMIN, User.Role.OPERATOR)
InputError = (ChannelInputError, ChannelGroupInputError, WelcomeInputError)
EditError = (*InputError, WeComError, WeComNotConnected)
WEEKDAY_NAMES = dict(WEEKDAYS)


def failure_message(exc: Exception) -> str:
    """What the operator reads when a change was refused; nothing was saved in any case."""
    if isinstance(exc, InputError):
        return _("Nothing was changed: %(reason)s") % {"reason": exc}
    return wecom_failure_message(exc)


def _can_write(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in CAN_WRITE


def _or_404(getter: Any, **kwargs: Any) -> Any:
    try:
        return getter(**kwargs)
    except ObjectDoesNotExist:
        raise Http404 from None


def _channel_or_404(pk: int) -> Channel:
    channel: Channel = _or_404(channel_get, channel_id=pk)
    return channel


def _status(channel: Channel, now: Any) -> tuple[str, str]:
    """(css class, label) of where the channel stands."""
    if channel.deleted_at is not None:
        return "deleted", _("Deleted channel")
    if not channel.is_active:
        return "inactive", _("Inactive")
    if channel.starts_at and now < channel.starts_at:
        return "scheduled", _("Not started")
    if channel.ends_at and now >= channel.ends_at:
        return "ended", _("Ended")
    return "active", _("Active")


# --- channels -----------------------------------------------------------------------------


@role_required(*ANY_ROLE)
def channels(request: HttpRequest) -> HttpResponse:
    """Channels with today's adds, filtered by group; the contact-way quota."""
    form = ChannelFilterForm(request.GET)
    group = deleted = None
    if form.is_valid():
        group = form.cleaned_data["group"]
        deleted = form.cleaned_data["deleted"]
    now = timezone.now()
    rows = []
    adds_total = 0
    for channel in channel_list(group_id=group.pk if group else None, deleted=bool(deleted)):
        adds_total += getattr(channel, "adds_today", 0)
        css, label = _status(channel, now)
        codes = list(channel.live_codes.all())
        rows.append(
            {
                "channel": channel,
                "code": codes[0] if codes else None,
                "members": sorted({u for code in codes for u in code.members}),
                "status_class": css,
                "status": label,
            }
        )
    ways = contact_ways_in_use()
    return render(
        request,
        "channels/channels.html",
        {
            "form": form,
            "rows": rows,
            "adds_total": adds_total,
            "ways": f"{ways:,}",
            "ways_max": f"{CONTACT_WAYS_PER_CORP:,}",
            "ways_left": f"{max(0, CONTACT_WAYS_PER_CORP - ways):,}",
            "can_write": _can_write(request),
            "active_nav": "channels",
        },
    )


def _form_page(request: HttpRequest, channel: Channel | None) -> HttpResponse:
    if request.method == "POST":
        form = ChannelForm(request.POST, channel=channel)
        if form.is_valid():
            try:
                if channel is None:
                    saved = channel_create(data=form.to_data(), actor=request.user)
                else:
                    saved = channel_update(channel=channel, data=form.to_data(), actor=request.user)
            except EditError as exc:
                messages.error(request, failure_message(exc))
            else:
                if channel is None:
                    text = _("Channel “%(name)s” created: its live code is ready in WeCom.")
                else:
                    text = _("Channel “%(name)s” saved, in WeCom too.")
                messages.success(request, text % {"name": saved.name})
                return redirect("channels:detail", pk=saved.pk)
    elif channel is not None:
        form = ChannelForm(initial=ChannelForm.initial_for(channel), channel=channel)
    else:
        form = ChannelForm(initial={"group": request.GET.get("group") or None})
    return render(
        request,
        "channels/channel_form.html",
        {
            "form": form,
            "channel": channel,
            "kept": form.kept_attachments,
            "active_nav": "channels",
        },
    )


@role_required(*CAN_WRITE)
def channel_new(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@role_required(*CAN_WRITE)
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel_or_404(pk)
    if channel.deleted_at is not None:
        messages.error(request, _("This channel was deleted: it cannot be changed."))
        return redirect("channels:detail", pk=channel.pk)
    return _form_page(request, channel)


@role_required(*CAN_WRITE)
def channel_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation (the printed code stops working); POST: delete."""
    channel = _channel_or_404(pk)
    if channel.deleted_at is not None:
        messages.error(request, _("This channel was deleted already."))
        return redirect("channels:detail", pk=channel.pk)
    if request.method == "POST":
        try:
            channel_delete(channel=channel, actor=request.user)
        except EditError as exc:
            messages.error(request, failure_message(exc))
            return redirect("channels:detail", pk=channel.pk)
        messages.success(
            request,
            _("Channel “%(name)s” deleted: its live code no longer adds anyone.")
            % {"name": channel.name},
        )
        return redirect("channels:list")
    return render(
        request,
        "channels/channel_delete.html",
        {"channel": channel, "active_nav": "channels"},
    )


def _range(request: HttpRequest) -> tuple[StatsRangeForm, Any, Any, list[str]]:
    """The stats range from `?from=&to=`; a bad one is reported and the default used."""
    form = StatsRangeForm(request.GET)
    errors: list[str] = []
    if not form.is_valid():
        for name, field_errors in form.errors.items():
            errors += [f"{form.fields[name].label}: {e}" for e in field_errors]
    start, end = form.dates()
    try:
        start, end = stats_range(start, end)
    except StatsRangeError as exc:
        errors.append(str(exc))
    if errors:
        errors.append(_("Showing the last 30 days instead."))
        start, end = stats_range(None, None)
    return form, start, end, errors


@role_required(*ANY_ROLE)
def channel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The live code, today's adds against the caps, welcome outcomes and the stats."""
    channel = _channel_or_404(pk)
    form, start, end, errors = _range(request)
    now = timezone.now()
    css, label = _status(channel, now)
    codes = list(channel.live_codes.all())
    day_rows = channel_stats(channel_id=channel.pk, start=start, end=end, by="day")
    guide_rows = channel_stats(channel_id=channel.pk, start=start, end=end, by="guide_total")
    counts = welcome_outcome_counts(channel_id=channel.pk, start=start, end=end)
    outcomes = [
        {"value": value, "label": text, "count": counts.get(value, 0)}
        for value, text in WelcomeLog.Outcome.choices
    ]
    known_tags = tags_by_ids(channel.tag_ids)
    query = f"?from={start.isoformat()}&to={end.isoformat()}"
    return render(
        request,
        "channels/channel_detail.html",
        {
            "channel": channel,
            "codes": codes,
            "code": codes[0] if codes else None,
            "status_class": css,
            "status": label,
            "guides_today": channel_guides_today(channel, now=now),
            "tags": [(t, known_tags.get(t)) for t in channel.tag_ids],
            "hours": [(WEEKDAY_NAMES[h.weekday], h.start, h.end) for h in channel.hours.all()],
            "outcomes": outcomes,
            "failures": welcome_failures(channel_id=channel.pk),
            "day_rows": list(reversed(day_rows)),
            "day_total": stats_total(day_rows),
            "guide_rows": guide_rows,
            "range_form": form,
            "start": start,
            "end": end,
            "errors": errors,
            "stats_url": reverse("channels:stats_json", args=[channel.pk]) + query,
            "csv_url": reverse("channels:stats_csv", args=[channel.pk]) + query,
            "customers_url": f"{reverse('contacts:customers')}?channel={channel.pk}",
            "can_write": _can_write(request) and channel.deleted_at is None,
            "active_nav": "channels",
        },
    )


@require_GET
@role_required(*ANY_ROLE)
def channel_stats_json(request: HttpRequest, pk: int) -> JsonResponse:
    """The chart's data: per day adds, deletions and net, with the series' names."""
    channel = _channel_or_404(pk)
    _form, start, end, errors = _range(request)
    rows = channel_stats(channel_id=channel.pk, start=start, end=end, by="day")
    chart = stats_by_day_chart(rows)
    return JsonResponse(
        {
            "channel": channel.pk,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "errors": errors,
            "days": chart.get("days", []),
            "series": [
                {"key": "adds", "name": _("Adds"), "type": "bar", "data": chart.get("adds", [])},
                {
                    "key": "deletions",
                    "name": _("Deleted by the customer"),
                    "type": "bar",
                    "data": chart.get("deletions", []),
                },
                {"key": "net", "name": _("Net adds"), "type": "line", "data": chart.get("net", [])},
            ],
        }
    )


def stats_csv_header(by: StatsBy) -> list[str]:
    header = [_("Day")]
    if by == "guide":
        header += [_("Guide userid"), _("Guide name")]
    return [
        *header,
        _("Adds"),
        _("Deleted by the customer"),
        _("Net adds"),
        _("Still friends after 7 days"),
        _("Welcomes sent"),
        _("Welcomes due"),
        _("Welcome success rate"),
    ]


def _text_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def stats_csv_row(stats: StatsRow, by: StatsBy) -> list[Any]:
    row: list[Any] = [stats.day.isoformat() if stats.day else ""]
    if by == "guide":
        row += [_text_cell(stats.guide_userid), _text_cell(stats.guide_name)]
    rate = stats.welcome_rate
    return [
        *row,
        stats.adds,
        stats.deletions,
        stats.net,
        "" if stats.retained_7d is None else stats.retained_7d,
        stats.welcome_sent,
        stats.welcome_due,
        "" if rate is None else f"{rate:.4f}",
    ]


@require_GET
@role_required(*ANY_ROLE)
def channel_stats_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The stats as CSV: per day (`?by=day`) or per guide per day (`?by=guide`). At most
    366 days, so the file is built in memory."""
    channel = _channel_or_404(pk)
    _form, start, end, _errors = _range(request)
    by: StatsBy = "guide" if request.GET.get("by") == "guide" else "day"
    rows = channel_stats(channel_id=channel.pk, start=start, end=end, by=by)
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(stats_csv_header(by))
    for stats in rows:
        writer.writerow(stats_csv_row(stats, by))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    filename = f"channel-{channel.pk}-{by}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- groups -------------------------------------------------------------------------------


def _groups_page(request: HttpRequest, form: ChannelGroupForm | None = None) -> HttpResponse:
    return render(
        request,
        "channels/groups.html",
        {
            "groups": list(channel_group_list()),
            "form": form or ChannelGroupForm(),
            "can_write": _can_write(request),
            "active_nav": "channels",
        },
    )


@role_required(*ANY_ROLE)
def groups(request: HttpRequest) -> HttpResponse:
    """Groups with their channel counts; POST (admins, operators) creates one."""
    if request.method != "POST":
        return _groups_page(request)
    if not _can_write(request):
        return render(request, "console/forbidden.html", status=403)
    form = ChannelGroupForm(request.POST)
    if not form.is_valid():
        return _groups_page(request, form)
    try:
        group = channel_group_create(name=form.cleaned_data["name"], actor=request.user)
    except EditError as exc:
        messages.error(request, failure_message(exc))
        return _groups_page(request, form)
    messages.success(request, _("Channel group “%(name)s” created.") % {"name": group.name})
    return redirect("channels:groups")


@role_required(*CAN_WRITE)
def group_rename(request: HttpRequest, pk: int) -> HttpResponse:
    group: ChannelGroup = _or_404(channel_group_get, group_id=pk)
    form = ChannelGroupForm(request.POST or None, initial={"name": group.name})
    if request.method == "POST" and form.is_valid():
        before = group.name
        try:
            channel_group_rename(group=group, name=form.cleaned_data["name"], actor=request.user)
        except EditError as exc:
            messages.error(request, failure_message(exc))
        else:
            messages.success(
                request,
                _("Renamed “%(before)s” to “%(after)s”.") % {"before": before, "after": group.name},
            )
            return redirect("channels:groups")
    return render(
        request,
        "channels/group_rename.html",
        {"group": group, "form": form, "active_nav": "channels"},
    )


@role_required(*CAN_WRITE)
def group_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation (its channels stay, ungrouped); POST: delete."""
    group: ChannelGroup = _or_404(channel_group_get, group_id=pk)
    if request.method == "POST":
        name = group.name
        channel_group_delete(group=group, actor=request.user)
        messages.success(request, _("Channel group “%(name)s” deleted.") % {"name": name})
        return redirect("channels:groups")
    return render(
        request,
        "channels/group_delete.html",
        {"group": group, "active_nav": "channels"},
    )


# --- welcome messages ---------------------------------------------------------------------


@role_required(*ANY_ROLE)
def welcomes(request: HttpRequest) -> HttpResponse:
    """The default, store and guide welcomes (for adds no channel welcomes)."""
    rows = welcome_message_list()
    return render(
        request,
        "channels/welcomes.html",
        {
            "rows": rows,
            "has_default": any(m.scope == WelcomeMessage.Scope.DEFAULT for m in rows),
            "can_write": _can_write(request),
            "active_nav": "channels",
        },
    )


def _welcome_form_page(request: HttpRequest, message: WelcomeMessage | None) -> HttpResponse:
    if request.method == "POST":
        form = WelcomeMessageForm(request.POST, message=message)
        if form.is_valid():
            data = form.cleaned_data
            guide, store = data.get("guide"), data.get("store")
            try:
                saved = welcome_message_save(
                    message=message,
                    scope=data["scope"],
                    guide_id=guide.pk if guide is not None else None,
                    store_id=store.pk if store is not None else None,
                    text=data["text"],
                    attachments=form.attachments(),
                    actor=request.user,
                )
            except EditError as exc:
                messages.error(request, failure_message(exc))
            else:
                messages.success(
                    request,
                    _("Welcome message saved (%(scope)s).") % {"scope": saved.get_scope_display()},
                )
                return redirect("channels:welcomes")
    elif message is not None:
        form = WelcomeMessageForm(initial=WelcomeMessageForm.initial_for(message), message=message)
    else:
        form = WelcomeMessageForm(initial={"scope": request.GET.get("scope") or "default"})
    return render(
        request,
        "channels/welcome_form.html",
        {
            "form": form,
            "message": message,
            "kept": form.kept_attachments,
            "active_nav": "channels",
        },
    )


@role_required(*CAN_WRITE)
def welcome_new(request: HttpRequest) -> HttpResponse:
    return _welcome_form_page(request, None)


def _welcome_or_404(pk: int) -> WelcomeMessage:
    message = WelcomeMessage.objects.select_related("guide", "store").filter(pk=pk).first()
    if message is None:
        raise Http404
    return message


@role_required(*CAN_WRITE)
def welcome_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _welcome_form_page(request, _welcome_or_404(pk))


@role_required(*CAN_WRITE)
def welcome_delete(request: HttpRequest, pk: int) -> HttpResponse:
    message = _welcome_or_404(pk)
    if request.method == "POST":
        welcome_message_delete(message=message, actor=request.user)
        messages.success(request, _("Welcome message deleted."))
        return redirect("channels:welcomes")
    return render(
        request,
        "channels/welcome_delete.html",
        {"message": message, "active_nav": "channels"},
    )
