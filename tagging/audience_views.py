"""Console pages of segments (分群), auto-tag rules (自动标签) and bulk tagging jobs (批量打标签).

Writes go through tagging.segments, tagging.rules and tagging.bulk; what those refuse comes
back as a message on the page, never a 500. Every role reads these pages; admins and
operators change them. Jobs run in the background: their pages poll a small JSON endpoint.
"""

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
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
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.permissions import role_required
from contacts.exports import BOM, FORMULA_PREFIXES
from contacts.models import Customer, Relation
from contacts.privacy import can_see_phones, mask_phone
from contacts.selectors import InvalidCursor, keyset_page
from tagging.audience_forms import (
    EMPTY_DEFINITION,
    WEEKDAYS,
    BulkCsvForm,
    BulkFromSegmentForm,
    RuleForm,
    SegmentForm,
    SegmentPreviewForm,
    definition_text,
    service_message,
    tag_choices,
)
from tagging.audience_selectors import (
    bulk_job_get,
    bulk_job_list,
    bulk_jobs_progress,
    bulk_row_list,
    definition_labels,
    guide_label,
    guide_search,
    rule_get,
    rule_list,
    rule_matching_relations_count,
    segment_get,
    segment_list,
)
from tagging.bulk import (
    MAX_CSV_BYTES,
    BulkInputError,
    bulk_job_cancel,
    bulk_job_from_csv,
    bulk_job_from_rule,
    bulk_job_from_segment,
    bulk_job_report,
)
from tagging.models import AutoTagRule, BulkTagJob, BulkTagRow, Segment
from tagging.rules import rule_delete, rule_save
from tagging.segments import (
    SegmentError,
    segment_clean,
    segment_count,
    segment_delete,
    segment_refresh_count,
    segment_save,
)
from tagging.selectors import tags_by_ids
from tagging.services import TagInputError

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
CAN_WRITE = (User.Role.ADMIN, User.Role.OPERATOR)
JOBS_PAGE_SIZE = 30
JOBS_PER_SEGMENT = 10
PROBLEM_ROWS_SHOWN = 100
PROGRESS_POLL_MS = 2000


def _can_write(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in CAN_WRITE


def _or_404(getter: Any, **kwargs: Any) -> Any:
    try:
        return getter(**kwargs)
    except ObjectDoesNotExist:
        raise Http404 from None


def _tag_names(tag_ids: list[str], known: dict[str, Any]) -> list[str]:
    """Tag names for ids; an id the catalogue no longer has is shown as the id."""
    return [known[t].name if t in known else t for t in tag_ids]


# --- segments: the builder ----------------------------------------------------------------


def _options(choices: Any) -> list[list[Any]]:
    return [[value, str(label)] for value, label in choices]


def _builder_config(definition: Any) -> dict[str, Any]:
    """What the builder script needs: fields, their ops, the choices of each field, labels
    for the values already in the definition, its texts in the request's language."""
    from channels_qr.models import Channel
    from contacts.models import Store

    labels = definition_labels([definition])
    relation_ops = [["in", _("one of")], ["not_in", _("none of")]]
    own_ops = [["in", _("is one of")], ["not_in", _("is none of")]]
    fields: list[dict[str, Any]] = [
        {
            "value": "tags",
            "label": _("Tags"),
            "kind": "choice",
            "ops": [["any", _("any of")], ["all", _("all of")], ["none", _("none of")]],
        },
        {"value": "channel", "label": _("Channel"), "kind": "choice", "numeric": True},
        {"value": "guide", "label": _("Guide"), "kind": "guide", "numeric": True},
        {"value": "store", "label": _("Store"), "kind": "choice", "numeric": True},
        {"value": "status", "label": _("Relation status"), "kind": "choice"},
        {
            "value": "added",
            "label": _("Added"),
            "kind": "dates",
            "ops": [["between", _("between")]],
        },
        {"value": "gender", "label": _("Gender"), "kind": "choice", "numeric": True, "own": True},
        {
            "value": "customer_type",
            "label": _("Customer type"),
            "kind": "choice",
            "numeric": True,
            "own": True,
        },
    ]
    for field in fields:
        field.setdefault("ops", own_ops if field.get("own") else relation_ops)
    stores = Store.objects.order_by("order", "department_id").values_list("pk", "name")
    channels = Channel.objects.order_by("name", "id").values_list("pk", "name")
    choices = {
        "tags": [{"group": name, "options": _options(tags)} for name, tags in tag_choices()],
        "channel": [{"group": "", "options": _options(channels)}],
        "store": [{"group": "", "options": _options(stores)}],
        "status": [{"group": "", "options": _options(Relation.Status.choices)}],
        "gender": [{"group": "", "options": _options(Customer.Gender.choices)}],
        "customer_type": [{"group": "", "options": _options(Customer.Type.choices)}],
    }
    return {
        "fields": fields,
        "choices": choices,
        "labels": {
            field: {str(k): v for k, v in values.items()} for field, values in labels.items()
        },
        "previewUrl": reverse("audience:segment_preview"),
        "guideSearchUrl": reverse("audience:guide_search"),
        "text": {
            "and": _("All of these (AND)"),
            "or": _("Any of these (OR)"),
            "addCondition": _("+ Condition"),
            "addGroup": _("+ Group"),
            "removeGroup": _("Remove group"),
            "remove": _("Remove"),
            "addValue": _("Add…"),
            "searchGuide": _("Type a guide's name or userid…"),
            "noGuide": _("No guide found."),
            "from": _("from"),
            "to": _("to"),
            "unknown": _("(deleted)"),
            "emptyGroup": _("No conditions yet: every customer matches."),
            "counting": _("Counting…"),
            "count": _("Matching customers now: %(count)s"),
            "error": _("Cannot count yet: %(error)s"),
            "failed": _(
                "The count could not be fetched; it will be tried again on the next change."
            ),
            "badJson": _("The JSON below is not valid: fix it to use the builder again."),
        },
    }


def _posted_definition(form: SegmentForm) -> Any:
    try:
        return json.loads(form["definition"].value() or "")
    except (TypeError, ValueError):
        return EMPTY_DEFINITION


# --- segments: in words -------------------------------------------------------------------

TAG_WORDS = {
    "any": gettext_lazy("Has any of the tags"),
    "all": gettext_lazy("Has all of the tags (across their guides)"),
    "none": gettext_lazy("Has none of the tags"),
}
LIST_WORDS = {
    ("channel", "in"): gettext_lazy("Came from one of the channels"),
    ("channel", "not_in"): gettext_lazy("Came from none of the channels"),
    ("guide", "in"): gettext_lazy("Held by one of the guides"),
    ("guide", "not_in"): gettext_lazy("Held by none of the guides"),
    ("store", "in"): gettext_lazy("Held by a guide of one of the stores"),
    ("store", "not_in"): gettext_lazy("Held by no guide of the stores"),
    ("status", "in"): gettext_lazy("Has a relation with the status"),
    ("status", "not_in"): gettext_lazy("Has no relation with the status"),
    ("gender", "in"): gettext_lazy("Gender is"),
    ("gender", "not_in"): gettext_lazy("Gender is not"),
    ("customer_type", "in"): gettext_lazy("Customer type is"),
    ("customer_type", "not_in"): gettext_lazy("Customer type is not"),
}


def describe(node: Any, labels: dict[str, dict[Any, str]]) -> dict[str, Any]:
    """The definition as a tree of sentences: {"text", "values", "children"} per node."""
    if not isinstance(node, dict):
        return {"text": str(node), "values": [], "children": []}
    if "field" not in node:
        rules = node.get("rules") or []
        if not rules:
            return {"text": _("Every customer (no conditions)"), "values": [], "children": []}
        text = (
            _("All of the following (AND)")
            if node.get("op") == "and"
            else _("Any of the following (OR)")
        )
        return {"text": text, "values": [], "children": [describe(c, labels) for c in rules]}
    field, op = str(node.get("field")), str(node.get("op"))
    if field == "added":
        start, end = node.get("from"), node.get("to")
        if start and end:
            text = _("Added a guide between %(start)s and %(end)s") % {"start": start, "end": end}
        elif start:
            text = _("Added a guide on or after %(start)s") % {"start": start}
        else:
            text = _("Added a guide on or before %(end)s") % {"end": end}
        return {"text": text, "values": [], "children": []}
    words = TAG_WORDS.get(op) if field == "tags" else LIST_WORDS.get((field, op))
    names = labels.get(str(field), {})
    values = [
        {"label": names.get(v, str(v)), "known": v in names} for v in node.get("values") or []
    ]
    return {"text": str(words or f"{field} {op}"), "values": values, "children": []}


# --- segments: pages ----------------------------------------------------------------------


@role_required(*ANY_ROLE)
def segments(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "tagging/audience/segments.html",
        {
            "segments": list(segment_list()),
            "can_write": _can_write(request),
            "active_nav": "segments",
        },
    )


def _segment_form_page(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    if request.method == "POST":
        form = SegmentForm(request.POST)
        if form.is_valid():
            definition = form.cleaned_data["definition"]
            try:
                segment_clean(definition)
            except SegmentError as exc:
                form.add_error("definition", str(exc))
            else:
                try:
                    saved = segment_save(
                        segment=segment,
                        actor=request.user,
                        name=form.cleaned_data["name"],
                        definition=definition,
                        description=form.cleaned_data["description"],
                    )
                except SegmentError as exc:
                    form.add_error("name", str(exc))
                else:
                    messages.success(
                        request,
                        _("Segment “%(name)s” saved: %(count)s customers now.")
                        % {"name": saved.name, "count": saved.last_count},
                    )
                    return redirect("audience:segment", pk=saved.pk)
        definition = _posted_definition(form)
    else:
        definition = segment.definition if segment is not None else EMPTY_DEFINITION
        initial = {"definition": definition_text(definition)}
        if segment is not None:
            initial |= {"name": segment.name, "description": segment.description}
        form = SegmentForm(initial=initial)
    return render(
        request,
        "tagging/audience/segment_form.html",
        {
            "form": form,
            "segment": segment,
            "builder": _builder_config(definition),
            "active_nav": "segments",
        },
    )


@role_required(*CAN_WRITE)
def segment_create(request: HttpRequest) -> HttpResponse:
    return _segment_form_page(request, None)


@role_required(*CAN_WRITE)
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _segment_form_page(request, _or_404(segment_get, segment_id=pk))


@require_POST
@role_required(*ANY_ROLE)
def segment_preview(request: HttpRequest) -> JsonResponse:
    """The live count while editing: {"count": n}, or {"error": why} with 400."""
    form = SegmentPreviewForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": _("Send the conditions as JSON.")}, status=400)
    try:
        definition = json.loads(form.cleaned_data["definition"])
    except ValueError:
        return JsonResponse({"error": _("The conditions are not valid JSON.")}, status=400)
    try:
        count = segment_count(segment_clean(definition))
    except SegmentError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"count": count})


@require_GET
@role_required(*ANY_ROLE)
def guide_search_view(request: HttpRequest) -> JsonResponse:
    """Guides for the builder's guide picker: {"results": [{"id", "label"}]}."""
    guides = guide_search(q=request.GET.get("q", "")[:64])
    return JsonResponse({"results": [{"id": g.pk, "label": guide_label(g)} for g in guides]})


def _jobs_with_progress(jobs: list[BulkTagJob]) -> list[dict[str, Any]]:
    """Jobs with their progress and tag names: two queries whatever the number of jobs."""
    progress = bulk_jobs_progress(job.pk for job in jobs)
    known = tags_by_ids(t for job in jobs for t in job.tag_ids)
    rows = []
    for job in jobs:
        counts = progress[job.pk]
        rows.append(
            {
                "job": job,
                "progress": counts,
                "processed": counts["total"] - counts["pending"],
                "tag_names": _tag_names(job.tag_ids, known),
            }
        )
    return rows


def _segment_page(
    request: HttpRequest, segment: Segment, *, bulk_form: BulkFromSegmentForm | None = None
) -> HttpResponse:
    can_write = _can_write(request)
    labels = definition_labels([segment.definition])
    jobs = list(bulk_job_list().filter(segment=segment)[:JOBS_PER_SEGMENT])
    return render(
        request,
        "tagging/audience/segment_detail.html",
        {
            "segment": segment,
            "words": describe(segment.definition, labels),
            "bulk_form": (bulk_form or BulkFromSegmentForm()) if can_write else None,
            "jobs": _jobs_with_progress(jobs),
            "customers_url": f"{reverse('contacts:customers')}?segment={segment.pk}",
            "can_write": can_write,
            "active_nav": "segments",
        },
    )


@role_required(*ANY_ROLE)
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _segment_page(request, _or_404(segment_get, segment_id=pk))


@require_POST
@role_required(*CAN_WRITE)
def segment_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _or_404(segment_get, segment_id=pk)
    try:
        count = segment_refresh_count(segment)
    except SegmentError as exc:  # saved before a rule it breaks existed: edit it
        messages.error(request, _("Not counted: %(error)s") % {"error": exc})
        return redirect("audience:segment", pk=segment.pk)
    messages.success(request, _("Counted again: %(count)s customers.") % {"count": count})
    return redirect("audience:segment", pk=segment.pk)


@role_required(*CAN_WRITE)
def segment_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation; POST: delete (bulk jobs of the segment keep their results)."""
    segment = _or_404(segment_get, segment_id=pk)
    if request.method == "POST":
        name = segment.name
        segment_delete(segment=segment, actor=request.user)
        messages.success(request, _("Segment “%(name)s” deleted.") % {"name": name})
        return redirect("audience:segments")
    return render(
        request,
        "tagging/audience/segment_delete.html",
        {"segment": segment, "active_nav": "segments"},
    )


@require_POST
@role_required(*CAN_WRITE)
def segment_bulk(request: HttpRequest, pk: int) -> HttpResponse:
    """Tag or untag the segment's customers: first a confirmation with the count now, then
    the job (its page shows the progress)."""
    segment = _or_404(segment_get, segment_id=pk)
    form = BulkFromSegmentForm(request.POST)
    if not form.is_valid():
        return _segment_page(request, segment, bulk_form=form)
    action, tag_ids = form.cleaned_data["action"], list(form.cleaned_data["tags"])
    if form.cleaned_data["confirmed"]:
        try:
            job = bulk_job_from_segment(
                segment=segment, action=action, tag_ids=tag_ids, actor=request.user
            )
        except (BulkInputError, SegmentError) as exc:
            messages.error(
                request, _("No job was started: %(reason)s") % {"reason": service_message(exc)}
            )
        else:
            messages.success(request, _("Bulk job #%(id)s started.") % {"id": job.pk})
            return redirect("audience:bulk_job", pk=job.pk)
    known = tags_by_ids(tag_ids)
    return render(
        request,
        "tagging/audience/segment_bulk_confirm.html",
        {
            "segment": segment,
            "count": segment_refresh_count(segment),
            "action": action,
            "tag_ids": tag_ids,
            "tag_names": _tag_names(tag_ids, known),
            "active_nav": "segments",
        },
    )


# --- auto-tag rules -----------------------------------------------------------------------


def _rule_rows(rules: list[AutoTagRule]) -> list[dict[str, Any]]:
    known = tags_by_ids(t for rule in rules for t in rule.tag_ids)
    add_ways = dict(Relation.AddWay.choices)
    weekdays = dict(WEEKDAYS)
    return [
        {
            "rule": rule,
            "tag_names": _tag_names(rule.tag_ids, known),
            "channels": [c.name for c in rule.channels.all()],
            "add_ways": [str(add_ways.get(w, w)) for w in rule.add_ways],
            "guides": [g.name or g.userid for g in rule.guides.all()],
            "stores": [s.name for s in rule.stores.all()],
            "weekdays": [str(weekdays.get(d, d)) for d in rule.weekdays],
        }
        for rule in rules
    ]


@role_required(*ANY_ROLE)
def rules(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "tagging/audience/rules.html",
        {
            "rows": _rule_rows(list(rule_list())),
            "can_write": _can_write(request),
            "active_nav": "rules",
        },
    )


def _rule_form_page(request: HttpRequest, rule: AutoTagRule | None) -> HttpResponse:
    if request.method == "POST":
        form = RuleForm(request.POST)
        if form.is_valid():
            try:
                saved = rule_save(rule=rule, actor=request.user, **form.service_arguments())
            except TagInputError as exc:
                form.add_error(None, service_message(exc))
            else:
                messages.success(request, _("Rule “%(name)s” saved.") % {"name": saved.name})
                return redirect("audience:rules")
    else:
        form = RuleForm.for_rule(rule) if rule is not None else RuleForm()
    return render(
        request,
        "tagging/audience/rule_form.html",
        {"form": form, "rule": rule, "active_nav": "rules"},
    )


@role_required(*CAN_WRITE)
def rule_create(request: HttpRequest) -> HttpResponse:
    return _rule_form_page(request, None)


@role_required(*CAN_WRITE)
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _rule_form_page(request, _or_404(rule_get, rule_id=pk))


@role_required(*CAN_WRITE)
def rule_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _or_404(rule_get, rule_id=pk)
    if request.method == "POST":
        name = rule.name
        rule_delete(rule=rule, actor=request.user)
        messages.success(request, _("Rule “%(name)s” deleted.") % {"name": name})
        return redirect("audience:rules")
    return render(
        request, "tagging/audience/rule_delete.html", {"rule": rule, "active_nav": "rules"}
    )


@role_required(*CAN_WRITE)
def rule_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: how many active relations the rule matches now; POST: tag them all (a job)."""
    rule = _or_404(rule_get, rule_id=pk)
    if request.method == "POST":
        try:
            job = bulk_job_from_rule(rule=rule, actor=request.user)
        except BulkInputError as exc:
            messages.error(
                request, _("No job was started: %(reason)s") % {"reason": service_message(exc)}
            )
            return redirect("audience:rules")
        messages.success(request, _("Bulk job #%(id)s started.") % {"id": job.pk})
        return redirect("audience:bulk_job", pk=job.pk)
    [row] = _rule_rows([rule])
    return render(
        request,
        "tagging/audience/rule_apply.html",
        {
            "row": row,
            "rule": rule,
            "count": rule_matching_relations_count(rule),
            "active_nav": "rules",
        },
    )


# --- bulk jobs ----------------------------------------------------------------------------


@role_required(*ANY_ROLE)
def bulk_jobs(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    try:
        page = keyset_page(bulk_job_list(), after=request.GET.get("after", ""), size=JOBS_PAGE_SIZE)
    except InvalidCursor:
        errors.append(_("That page link is no longer valid: showing the first page."))
        page = keyset_page(bulk_job_list(), size=JOBS_PAGE_SIZE)
    return render(
        request,
        "tagging/audience/bulk_jobs.html",
        {
            "page": page,
            "rows": _jobs_with_progress(page.items),
            "errors": errors,
            "can_write": _can_write(request),
            "active_nav": "bulk_jobs",
        },
    )


@role_required(*CAN_WRITE)
def bulk_upload(request: HttpRequest) -> HttpResponse:
    """A job from an uploaded CSV of external_userids or phone numbers."""
    if request.method == "POST":
        form = BulkCsvForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = bulk_job_from_csv(
                    data=upload.read(MAX_CSV_BYTES + 1),
                    file_name=upload.name or "upload.csv",
                    action=form.cleaned_data["action"],
                    tag_ids=list(form.cleaned_data["tags"]),
                    actor=request.user,
                )
            except BulkInputError as exc:
                form.add_error(None, service_message(exc))
            else:
                messages.success(request, _("Bulk job #%(id)s started.") % {"id": job.pk})
                return redirect("audience:bulk_job", pk=job.pk)
    else:
        form = BulkCsvForm()
    return render(
        request, "tagging/audience/bulk_upload.html", {"form": form, "active_nav": "bulk_jobs"}
    )


def _progress_json(job: BulkTagJob, counts: dict[str, int]) -> dict[str, Any]:
    processed = counts["total"] - counts["pending"]
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "running": job.status == BulkTagJob.Status.RUNNING,
        "processed": processed,
        "percent": 100 if not counts["total"] else round(100 * processed / counts["total"]),
        **counts,
    }


def _row_value(value: str, user: Any) -> str:
    if value and not value.startswith(("wm", "wo")) and not can_see_phones(user):
        return mask_phone(value)
    return value


@role_required(*ANY_ROLE)
def bulk_job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job: BulkTagJob = _or_404(bulk_job_get, job_id=pk)
    [row] = _jobs_with_progress([job])
    problems = [
        {
            "row": problem,
            "value": _row_value(problem.value, request.user),
            "reason": service_message(problem.error),
        }
        for problem in bulk_row_list(
            job=job, statuses=[BulkTagRow.Status.INVALID, BulkTagRow.Status.FAILED]
        )[:PROBLEM_ROWS_SHOWN]
    ]
    statuses = [
        (value, label, row["progress"][value]) for value, label in BulkTagRow.Status.choices
    ]
    return render(
        request,
        "tagging/audience/bulk_job.html",
        {
            **row,
            "row": row,
            "statuses": statuses,
            "problems": problems,
            "problems_shown": PROBLEM_ROWS_SHOWN,
            "progress_json": _progress_json(job, row["progress"]),
            "poll_ms": PROGRESS_POLL_MS,
            # the same sentence as the progress bar's, for the page's script
            "rows_text": _("%(done)s / %(total)s rows"),
            "can_write": _can_write(request),
            "active_nav": "bulk_jobs",
        },
    )


@require_GET
@role_required(*ANY_ROLE)
def bulk_job_progress_view(request: HttpRequest, pk: int) -> JsonResponse:
    job: BulkTagJob = _or_404(bulk_job_get, job_id=pk)
    counts = bulk_jobs_progress([job.pk])[job.pk]
    return JsonResponse(_progress_json(job, counts))


@require_POST
@role_required(*CAN_WRITE)
def bulk_job_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    job: BulkTagJob = _or_404(bulk_job_get, job_id=pk)
    if bulk_job_cancel(job=job, actor=request.user):
        messages.success(
            request, _("Job #%(id)s cancelled: rows not reached stay pending.") % {"id": job.pk}
        )
    else:
        messages.error(request, _("Job #%(id)s is not running any more.") % {"id": job.pk})
    return redirect("audience:bulk_job", pk=job.pk)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _report_lines(job: BulkTagJob, *, schema: str, language: str | None) -> Iterator[str]:
    """The per-row report as CSV text, read while the response streams (schema and
    language captured by the view)."""
    writer = csv.writer(_Echo())
    statuses = dict(BulkTagRow.Status.choices)
    with schema_context(schema), translation.override(language):
        header = [
            _("Line"),
            _("Value"),
            _("External userid"),
            _("Guide userid"),
            _("Result"),
            _("WeCom errcode"),
            _("Reason"),
        ]
        yield BOM + writer.writerow(header)
        rows = bulk_job_report(job)
        next(rows)  # the service's own (English) header
        for line, value, external_userid, guide, result, errcode, reason in rows:
            cells = [
                line,
                value,
                external_userid,
                guide,
                str(statuses.get(result, result)),
                errcode,
                service_message(reason) if reason else "",
            ]
            yield writer.writerow([_cell(cell) for cell in cells])


# role_required is typed for HttpResponse; a streamed response passes through it unchanged.
@role_required(*CAN_WRITE)  # type: ignore[arg-type]
def bulk_job_report_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Every row of the job with its result and reason, as CSV (streamed)."""
    job: BulkTagJob = _or_404(bulk_job_get, job_id=pk)
    response = StreamingHttpResponse(
        _report_lines(
            job,
            schema=getattr(connection, "schema_name", "public"),
            language=translation.get_language(),
        ),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"bulk-tag-job-{job.pk}-{timezone.localtime():%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
