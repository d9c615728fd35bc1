"""Console pages of orders and custom events: the orders list (filters, keyset pages), an
order's page, the custom events list, and CSV imports (upload, a job's page with its
progress and refused rows, the per-row report and the template as CSV).

Every role reads these pages; admins and operators import. Phone numbers show in full to
admins and operators only.
"""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.permissions import role_required
from contacts.exports import BOM, FORMULA_PREFIXES
from contacts.selectors import InvalidCursor, KeysetPage, keyset_page
from orders import imports
from orders.forms import EventFilterForm, OrderFilterForm, OrderImportForm
from orders.models import Order, OrderImport, OrderImportRow
from orders.selectors import event_list, import_get, import_list, import_rows, order_get, order_list

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
CAN_WRITE = (User.Role.ADMIN, User.Role.OPERATOR)
PAGE_SIZE = 50
IMPORTS_PAGE_SIZE = 30
PROBLEM_ROWS_SHOWN = 200
PROGRESS_POLL_MS = 2000


def _page(
    request: HttpRequest, qs: Any, errors: list[str], size: int = PAGE_SIZE
) -> KeysetPage[Any]:
    try:
        return keyset_page(qs, after=request.GET.get("after", ""), size=size)
    except InvalidCursor:
        errors.append(_("That page link is no longer valid: showing the first page."))
        return keyset_page(qs, size=size)


def _can_write(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in CAN_WRITE


def _filtered_list(
    request: HttpRequest,
    form_class: type[OrderFilterForm | EventFilterForm],
    rows: Any,
    template: str,
    tab: str,
) -> HttpResponse:
    """A list page: the filter form (bad filters reported, then ignored) and a keyset page."""
    form = form_class(request.GET)
    errors = [] if form.is_valid() else form.error_list()
    page = _page(request, rows(form.filters()), errors)
    return render(
        request,
        template,
        {
            "form": form,
            "page": page,
            "errors": errors,
            "filtered": bool(request.GET.dict().keys() - {"after"}),
            "tab": tab,
            "active_nav": "orders",
        },
    )


@role_required(*ANY_ROLE)
def orders_list(request: HttpRequest) -> HttpResponse:
    return _filtered_list(request, OrderFilterForm, order_list, "orders/orders.html", "orders")


@role_required(*ANY_ROLE)
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        order = order_get(order_id=pk)
    except Order.DoesNotExist:
        raise Http404 from None
    return render(
        request,
        "orders/order_detail.html",
        {"order": order, "tab": "orders", "active_nav": "orders"},
    )


@role_required(*ANY_ROLE)
def events_list(request: HttpRequest) -> HttpResponse:
    return _filtered_list(request, EventFilterForm, event_list, "orders/events.html", "events")


# --- imports -------------------------------------------------------------------------------


def _progress(job: OrderImport, counts: dict[str, int]) -> dict[str, Any]:
    running = job.status in (OrderImport.Status.QUEUED, OrderImport.Status.RUNNING)
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "running": running,
        **counts,
    }


@role_required(*ANY_ROLE)
def imports_list(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    page = _page(request, import_list(), errors, size=IMPORTS_PAGE_SIZE)
    counts = imports.order_import_counts([job.pk for job in page.items])
    return render(
        request,
        "orders/imports.html",
        {
            "page": page,
            "rows": [{"job": job, "counts": counts[job.pk]} for job in page.items],
            "errors": errors,
            "can_write": _can_write(request),
            "tab": "imports",
            "active_nav": "orders",
        },
    )


@role_required(*CAN_WRITE)
def import_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = OrderImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = imports.order_import_start(
                    data=upload.read(imports.MAX_CSV_BYTES + 1),
                    file_name=upload.name or "orders.csv",
                    actor=request.user,
                    source=form.cleaned_data["source"].strip(),
                    require_match=form.cleaned_data["require_match"],
                )
            except imports.ImportInputError as exc:
                form.add_error("file", str(exc))
            else:
                messages.success(request, _("Import #%(id)s started.") % {"id": job.pk})
                return redirect("orders:import", pk=job.pk)
    else:
        form = OrderImportForm()
    return render(
        request,
        "orders/import_new.html",
        {
            "form": form,
            "columns": imports.TEMPLATE_HEADER,
            "tab": "imports",
            "active_nav": "orders",
        },
    )


def _job(pk: int) -> OrderImport:
    try:
        return import_get(import_id=pk)
    except OrderImport.DoesNotExist:
        raise Http404 from None


@role_required(*ANY_ROLE)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(pk)
    counts = imports.order_import_counts([job.pk])[job.pk]
    problems = [
        {"row": row, "reason": imports.row_reason_text(row.error)}
        for row in import_rows(import_id=job.pk, statuses=[OrderImportRow.Status.INVALID])[
            :PROBLEM_ROWS_SHOWN
        ]
    ]
    return render(
        request,
        "orders/import_detail.html",
        {
            "job": job,
            "counts": counts,
            "progress": _progress(job, counts),
            "statuses": [
                (value, label, counts[value]) for value, label in OrderImportRow.Status.choices
            ],
            "problems": problems,
            "problems_shown": PROBLEM_ROWS_SHOWN,
            "poll_ms": PROGRESS_POLL_MS,
            "rows_text": _("%(done)s / %(total)s rows"),
            "tab": "imports",
            "active_nav": "orders",
        },
    )


@require_GET
@role_required(*ANY_ROLE)
def import_progress(request: HttpRequest, pk: int) -> JsonResponse:
    job = _job(pk)
    return JsonResponse(_progress(job, imports.order_import_counts([job.pk])[job.pk]))


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM
    for row in rows:
        yield writer.writerow([_cell(cell) for cell in row])


def _report_rows(job: OrderImport, *, schema: str, language: str | None) -> Iterator[list[str]]:
    """The report's rows, read while the response streams (schema and language captured
    by the view)."""
    statuses = dict(OrderImportRow.Status.choices)
    with schema_context(schema), translation.override(language):
        yield [_("Line"), _("Order id"), _("Result"), _("Matched by"), _("Reason")]
        rows = imports.order_import_report(job)
        next(rows)  # the service's own (English) header
        for line, order_id, result, matched_by, reason in rows:
            yield [
                line,
                order_id,
                str(statuses.get(result, result)),
                matched_by,
                imports.row_reason_text(reason) if reason else "",
            ]


def _csv_response(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# role_required is typed for HttpResponse; a streamed response passes through it unchanged.
@role_required(*ANY_ROLE)  # type: ignore[arg-type]
def import_report(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Every row of the import with its result and reason, as CSV (streamed)."""
    job = _job(pk)
    rows = _report_rows(
        job,
        schema=getattr(connection, "schema_name", "public"),
        language=translation.get_language(),
    )
    return _csv_response(
        _csv_lines(rows), f"order-import-{job.pk}-{timezone.localtime():%Y%m%d-%H%M}.csv"
    )


@role_required(*ANY_ROLE)  # type: ignore[arg-type]
def import_template(request: HttpRequest) -> HttpResponseBase:
    """A CSV to fill in: the header and two example rows."""
    return _csv_response(_csv_lines(imports.template_rows()), "orders-template.csv")
