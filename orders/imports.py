"""CSV import of historical orders, run by a worker.

The upload is checked at once (size, encoding, a header naming the required columns) and
stored on an OrderImport. The worker then plans the file in one transaction: one
OrderImportRow per data line, each either pending (its values validated) or invalid (with
every reason). Then it imports pending rows in batches; each batch's orders and its rows'
outcomes commit together, so no row is ever half-written, and a killed worker's job is
resumed (after its lease) at the first pending row.
"""

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.services import audit_record
from contacts.models import Store
from contacts.phones import phone_normalise
from orders.matching import Keys, matches_resolve
from orders.models import MatchProblem, Order, OrderImport, OrderImportRow, plausible_moment
from orders.services import OrderInput, orders_upsert
from orders.updates import rows_update
from scrm.csvfiles import csv_text
from tagging.services import actor_label

MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_CSV_ROWS = 100_000
BATCH = 500
LEASE = timedelta(minutes=5)
AMOUNT_MAX = Decimal("9999999999.99")
ITEMS_MAX = 200

# Column -> the header names read for it (lower-cased, spaces trimmed).
COLUMNS: dict[str, set[str]] = {
    "order_id": {"order_id", "订单号", "订单编号"},
    "source": {"source", "来源"},
    "external_userid": {"external_userid", "客户id", "外部联系人id"},
    "unionid": {"unionid"},
    "phone": {"phone", "mobile", "手机", "手机号", "电话"},
    "amount": {"amount", "金额", "实付金额"},
    "paid_at": {"paid_at", "支付时间", "付款时间"},
    "status": {"status", "状态"},
    "refunded_at": {"refunded_at", "退款时间"},
    "store": {"store", "门店", "门店id", "部门id"},
    "items": {"items", "商品"},
}
KEY_COLUMNS = ("external_userid", "unionid", "phone")
TEMPLATE_HEADER = [
    "order_id",
    "source",
    "external_userid",
    "unionid",
    "phone",
    "amount",
    "paid_at",
    "status",
    "refunded_at",
    "store",
    "items",
]
TEMPLATE_ROWS = [
    [
        "SO20240101001",
        "erp",
        "wmAbCdEf0123456789",
        "",
        "",
        "299.00",
        "2024-01-01 12:30:00",
        "paid",
        "",
        "",
        "口红*1; 面霜*2",
    ],
    [
        "SO20240102002",
        "erp",
        "",
        "",
        "+86 138-1234-5678",
        "99.5",
        "2024-01-02 09:00",
        "refunded",
        "2024-01-05 10:00",
        "1001",
        "",
    ],
]
STATUSES = {
    "": Order.Status.PAID,
    "paid": Order.Status.PAID,
    "已支付": Order.Status.PAID,
    "支付": Order.Status.PAID,
    "refunded": Order.Status.REFUNDED,
    "已退款": Order.Status.REFUNDED,
    "退款": Order.Status.REFUNDED,
}
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
)
ITEM_RE = re.compile(r"^(?P<name>.+?)\s*[*×xX]\s*(?P<quantity>\d+)$")
ITEM_SEPARATORS = re.compile(r"[;；|]")

# Why a row was not imported, stored in English (OrderImportRow.error, several joined by
# "; ") and shown in the reader's language by `row_reason_text`.
ROW_REASONS = {
    "order_id is missing": gettext_lazy("order_id is missing"),
    "order_id is longer than 128 characters": gettext_lazy(
        "order_id is longer than 128 characters"
    ),
    "amount is missing": gettext_lazy("amount is missing"),
    "amount is not a number": gettext_lazy("amount is not a number"),
    "amount is negative": gettext_lazy("amount is negative"),
    "amount has more than 2 decimals": gettext_lazy("amount has more than 2 decimals"),
    "amount is too large": gettext_lazy("amount is too large"),
    "paid_at is missing": gettext_lazy("paid_at is missing"),
    "paid_at is not a date": gettext_lazy("paid_at is not a date"),
    "paid_at is before 2000 or after tomorrow": gettext_lazy(
        "paid_at is before 2000 or after tomorrow"
    ),
    "refunded_at is not a date": gettext_lazy("refunded_at is not a date"),
    "status is neither paid nor refunded": gettext_lazy("status is neither paid nor refunded"),
    "no customer key: give external_userid, unionid or phone": gettext_lazy(
        "no customer key: give external_userid, unionid or phone"
    ),
    "phone is not a phone number": gettext_lazy("phone is not a phone number"),
    "a customer key is longer than 64 characters": gettext_lazy(
        "a customer key is longer than 64 characters"
    ),
    "source is longer than 64 characters": gettext_lazy("source is longer than 64 characters"),
    "no store with this WeCom department id": gettext_lazy(
        "no store with this WeCom department id"
    ),
    "items cannot be read": gettext_lazy("items cannot be read"),
    "no customer has this key": gettext_lazy("no customer has this key"),
    "the phone number belongs to several customers": gettext_lazy(
        "the phone number belongs to several customers"
    ),
    "the unionid belongs to several customers": gettext_lazy(
        "the unionid belongs to several customers"
    ),
}
SAME_AS_LINE = re.compile(r"same order id as line (?P<line>\d+)")
PROBLEM_REASONS: dict[str, str] = {
    MatchProblem.NOT_FOUND: "no customer has this key",
    MatchProblem.AMBIGUOUS_PHONE: "the phone number belongs to several customers",
    MatchProblem.AMBIGUOUS_UNIONID: "the unionid belongs to several customers",
}


def row_reason_text(error: str) -> str:
    """A row's stored reasons in the active language (unknown text is shown as stored)."""
    parts = []
    for part in filter(None, (p.strip() for p in error.split(";"))):
        match = SAME_AS_LINE.fullmatch(part)
        if match:
            parts.append(_("same order id as line %(line)s") % {"line": match["line"]})
            continue
        known = ROW_REASONS.get(part)
        parts.append(str(known) if known is not None else part)
    return _("; ").join(parts)


class ImportInputError(ValueError):
    """An upload that cannot be imported at all; the message says why, nothing was saved."""


# --- reading the file ----------------------------------------------------------------------


def _columns(header: list[str]) -> dict[str, int]:
    names = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    found: dict[str, int] = {}
    for column, aliases in COLUMNS.items():
        for index, name in enumerate(names):
            if name in aliases and column not in found:
                found[column] = index
    return found


def csv_check(data: bytes) -> str:
    """The file's text, once its size, encoding and header are good; else ImportInputError."""
    if len(data) > MAX_CSV_BYTES:
        raise ImportInputError(
            _("the file is larger than %(n)d MB") % {"n": MAX_CSV_BYTES // (1024 * 1024)}
        )
    text = csv_text(data)
    if text is None:
        raise ImportInputError(_("the file is neither UTF-8 nor GBK text"))
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise ImportInputError(_("not a CSV file: %(error)s") % {"error": exc}) from exc
    columns = _columns(header)
    missing = [name for name in ("order_id", "amount", "paid_at") if name not in columns]
    if missing:
        raise ImportInputError(
            _("the header must name the columns %(columns)s (see the template)")
            % {"columns": ", ".join(missing)}
        )
    if not any(name in columns for name in KEY_COLUMNS):
        raise ImportInputError(
            _("the header must name at least one of external_userid, unionid, phone")
        )
    return text


def parse_datetime_cell(text: str) -> datetime | None:
    """A date and time as people type it (local time unless an offset is given)."""
    text = text.strip()
    try:
        # ISO 8601 and its everyday spellings: 2024-01-31, 2024-01-31 12:30[:00], 2024/01/31 …
        value = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        for pattern in DATE_FORMATS:  # unpadded: 2024/1/5 9:00
            try:
                value = datetime.strptime(text, pattern)  # made aware below
                break
            except ValueError:
                continue
        else:
            return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def parse_items_cell(text: str) -> list[dict[str, Any]] | None:
    """`口红*2; 面霜` or a JSON list of {"name", "quantity", "sku", "price"}; None when it
    cannot be read."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            raw = json.loads(text)
        except ValueError:
            return None
        return _items_checked(raw)
    items = []
    for part in filter(None, (p.strip() for p in ITEM_SEPARATORS.split(text))):
        match = ITEM_RE.match(part)
        if match:
            items.append({"name": match["name"].strip(), "quantity": int(match["quantity"])})
        else:
            items.append({"name": part, "quantity": 1})
    return _items_checked(items)


def _items_checked(raw: Any) -> list[dict[str, Any]] | None:
    if not isinstance(raw, list) or len(raw) > ITEMS_MAX:
        return None
    items = []
    for item in raw:
        if not isinstance(item, dict):
            return None
        name = str(item.get("name") or "").strip()
        sku = str(item.get("sku") or "").strip()
        try:
            quantity = int(item.get("quantity", 1))
        except (TypeError, ValueError):
            return None
        if not name or len(name) > 200 or len(sku) > 64 or not 1 <= quantity <= 1_000_000:
            return None
        clean: dict[str, Any] = {"name": name, "quantity": quantity}
        if sku:
            clean["sku"] = sku
        if item.get("price") not in (None, ""):
            try:
                price = Decimal(str(item["price"]))
            except InvalidOperation:
                return None
            if not price.is_finite() or price < 0 or price > AMOUNT_MAX:
                return None
            clean["price"] = f"{price:.2f}"
        items.append(clean)
    return items


def _amount(text: str, reasons: list[str]) -> str:
    text = text.strip().lstrip("¥￥").replace(",", "")
    if not text:
        reasons.append("amount is missing")
        return ""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        reasons.append("amount is not a number")
        return ""
    if not amount.is_finite():
        reasons.append("amount is not a number")
    elif amount < 0:
        reasons.append("amount is negative")
    elif amount != amount.quantize(Decimal("0.01")):
        reasons.append("amount has more than 2 decimals")
    elif amount > AMOUNT_MAX:
        reasons.append("amount is too large")
    else:
        return f"{amount:.2f}"
    return ""


@dataclass
class PlannedRow:
    line: int
    order_id: str
    reasons: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def _row_plan(line: int, cells: dict[str, str], default_source: str) -> PlannedRow:
    """One data line validated: every problem it has, or its values for the import step."""
    order_id = cells.get("order_id", "").strip()
    row = PlannedRow(line=line, order_id=order_id[:128])
    reasons = row.reasons
    if not order_id:
        reasons.append("order_id is missing")
    elif len(order_id) > 128:
        reasons.append("order_id is longer than 128 characters")
    source = cells.get("source", "").strip() or default_source
    if len(source) > 64:
        reasons.append("source is longer than 64 characters")
    external_userid = cells.get("external_userid", "").strip()
    unionid = cells.get("unionid", "").strip()
    raw_phone = cells.get("phone", "").strip()
    phone = phone_normalise(raw_phone) if raw_phone else ""
    if not (external_userid or unionid or raw_phone):
        reasons.append("no customer key: give external_userid, unionid or phone")
    if raw_phone and not phone:
        reasons.append("phone is not a phone number")
    if len(external_userid) > 64 or len(unionid) > 64:
        reasons.append("a customer key is longer than 64 characters")
    amount = _amount(cells.get("amount", ""), reasons)
    paid_at = None
    if not cells.get("paid_at", "").strip():
        reasons.append("paid_at is missing")
    else:
        paid_at = parse_datetime_cell(cells["paid_at"])
        if paid_at is None:
            reasons.append("paid_at is not a date")
        elif not plausible_moment(paid_at):
            reasons.append("paid_at is before 2000 or after tomorrow")
            paid_at = None
    status = STATUSES.get(cells.get("status", "").strip().lower())
    if status is None:
        reasons.append("status is neither paid nor refunded")
    refunded_at = None
    if cells.get("refunded_at", "").strip():
        refunded_at = parse_datetime_cell(cells["refunded_at"])
        if refunded_at is None or not plausible_moment(refunded_at):
            reasons.append("refunded_at is not a date")
            refunded_at = None
    store = cells.get("store", "").strip()
    if store and not (store.isascii() and store.isdigit() and len(store) <= 18):
        reasons.append("no store with this WeCom department id")
    items = parse_items_cell(cells.get("items", ""))
    if items is None:
        reasons.append("items cannot be read")
    if not reasons:
        row.data = {
            "source": source,
            "order_id": order_id,
            "external_userid": external_userid,
            "unionid": unionid,
            "phone": phone,
            "amount": amount,
            "paid_at": paid_at.isoformat() if paid_at else None,
            "status": status,
            "refunded_at": refunded_at.isoformat() if refunded_at else None,
            "store": int(store) if store else None,
            "items": items,
        }
    return row


def csv_plan(text: str, *, default_source: str = "") -> list[PlannedRow]:
    """Every data line of the file, validated; a repeated (source, order_id) is invalid
    after its first line. Raises ImportInputError for a file past the row limit."""
    reader = csv.reader(io.StringIO(text))
    try:
        columns = _columns(next(reader, []))
        rows: list[PlannedRow] = []
        seen: dict[tuple[str, str], int] = {}
        line_end = reader.line_num
        for record in reader:
            line, line_end = line_end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_CSV_ROWS:
                raise ImportInputError(_("at most %(n)d rows per file") % {"n": MAX_CSV_ROWS})
            cells = {
                name: record[index] if index < len(record) else ""
                for name, index in columns.items()
            }
            row = _row_plan(line, cells, default_source)
            if row.order_id:
                identity = (row.data.get("source", default_source), row.order_id)
                if identity in seen:
                    row.reasons.append(f"same order id as line {seen[identity]}")
                    row.data = {}
                else:
                    seen[identity] = line
            rows.append(row)
    except csv.Error as exc:
        raise ImportInputError(_("not a CSV file: %(error)s") % {"error": exc}) from exc
    return rows


# --- the job -------------------------------------------------------------------------------


def order_import_start(
    *, data: bytes, file_name: str, actor: Any, source: str = "", require_match: bool = False
) -> OrderImport:
    """Check the upload and queue its import. Raises ImportInputError (nothing saved)."""
    from orders.tasks import order_import_run_task
    from scrm.tenant_tasks import enqueue

    text = csv_check(data)
    if len(source) > 64:
        raise ImportInputError(_("source: at most 64 characters"))
    with transaction.atomic():
        job = OrderImport.objects.create(
            file_name=file_name[:200],
            content=text,
            source=source,
            require_match=require_match,
            created_by=actor_label(actor),
        )
        audit_record(
            action="orders.import_started",
            actor=actor,
            target=job,
            detail={"file": job.file_name, "require_match": require_match, "source": source},
        )
        enqueue(order_import_run_task, import_id=job.pk)
    return job


def _claim(job_id: int) -> bool:
    now = timezone.now()
    return bool(
        OrderImport.objects.filter(
            pk=job_id, status__in=[OrderImport.Status.QUEUED, OrderImport.Status.RUNNING]
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            status=OrderImport.Status.RUNNING,
            lease_until=now + LEASE,
            started_at=Coalesce(F("started_at"), now),
        )
    )


def _plan(job: OrderImport) -> None:
    """Rows for every line of the file, in one transaction (all or none)."""
    planned = csv_plan(job.content, default_source=job.source)
    with transaction.atomic():
        OrderImportRow.objects.bulk_create(
            [
                OrderImportRow(
                    job=job,
                    line=row.line,
                    order_id=row.order_id,
                    data=row.data,
                    status=OrderImportRow.Status.INVALID
                    if row.reasons
                    else OrderImportRow.Status.PENDING,
                    error="; ".join(row.reasons)[:500],
                )
                for row in planned
            ],
            batch_size=2000,
        )
        OrderImport.objects.filter(pk=job.pk).update(planned=True, content="", total=len(planned))


def _input_of(data: dict[str, Any], stores: dict[int, Store]) -> OrderInput:
    return OrderInput(
        order_id=data["order_id"],
        source=data["source"],
        keys=Keys(data["external_userid"], data["unionid"], data["phone"]),
        values={
            "amount": Decimal(data["amount"]),
            "paid_at": datetime.fromisoformat(data["paid_at"]),
            "status": data["status"],
            "refunded_at": datetime.fromisoformat(data["refunded_at"])
            if data["refunded_at"]
            else None,
            "store": stores.get(data["store"]) if data["store"] is not None else None,
            "items": data["items"],
        },
    )


def _batch_import(job: OrderImport, batch: int) -> int:
    """Import the next pending rows; returns how many rows were settled (0: none left)."""
    with transaction.atomic():
        rows = list(
            job.rows.select_for_update(skip_locked=True)
            .filter(status=OrderImportRow.Status.PENDING)
            .order_by("line")[:batch]
        )
        if not rows:
            return 0
        department_ids = {r.data["store"] for r in rows if r.data.get("store") is not None}
        stores = {
            s.department_id: s for s in Store.objects.filter(department_id__in=department_ids)
        }
        keys = {
            r.pk: Keys(r.data["external_userid"], r.data["unionid"], r.data["phone"]) for r in rows
        }
        # the upsert matches them again; this lookup only serves refusing unknown customers
        matches = matches_resolve(keys.values()) if job.require_match else {}
        going: list[OrderImportRow] = []
        for row in rows:
            store = row.data.get("store")
            match = matches.get(keys[row.pk])
            if store is not None and store not in stores:
                row.status, row.error = (
                    OrderImportRow.Status.INVALID,
                    "no store with this WeCom department id",
                )
            elif job.require_match and (match is None or not match.matched):
                problem = match.problem if match is not None else MatchProblem.NOT_FOUND
                row.status = OrderImportRow.Status.INVALID
                row.error = PROBLEM_REASONS.get(problem, "no customer has this key")
            else:
                going.append(row)
        outcomes = orders_upsert(inputs=[_input_of(r.data, stores) for r in going])
        for row, outcome in zip(going, outcomes, strict=True):
            if outcome.result == "invalid":
                row.status = OrderImportRow.Status.INVALID
                row.error = "; ".join(str(m) for ms in outcome.errors.values() for m in ms)
            else:
                row.status = outcome.result
                row.matched_by = outcome.row.matched_by
        rows_update(OrderImportRow, rows, ["status", "error", "matched_by"])
        OrderImport.objects.filter(pk=job.pk).update(lease_until=timezone.now() + LEASE)
    return len(rows)


def order_import_run(*, import_id: int, batch: int = BATCH) -> bool:
    """Plan (once) and import a job's rows under a lease; False when another worker holds
    it or it is over. Resumable: a killed run's job continues at its first pending row."""
    if not _claim(import_id):
        return False
    job = OrderImport.objects.get(pk=import_id)
    if not job.planned:
        try:
            _plan(job)
        except ImportInputError as exc:
            OrderImport.objects.filter(pk=job.pk).update(
                status=OrderImport.Status.FAILED,
                error=str(exc)[:300],
                content="",
                finished_at=timezone.now(),
                lease_until=None,
            )
            return True
    while _batch_import(job, batch):
        pass
    OrderImport.objects.filter(pk=job.pk, status=OrderImport.Status.RUNNING).update(
        status=OrderImport.Status.FINISHED, finished_at=timezone.now(), lease_until=None
    )
    return True


def order_imports_resume() -> list[int]:
    """The ids of queued or running jobs whose worker is gone (lease over or never taken)."""
    stale = timezone.now() - LEASE
    return list(
        OrderImport.objects.filter(
            status__in=[OrderImport.Status.QUEUED, OrderImport.Status.RUNNING]
        )
        .filter(
            Q(lease_until__lt=timezone.now()) | Q(lease_until__isnull=True, created_at__lt=stale)
        )
        .values_list("pk", flat=True)
    )


def order_import_counts(job_ids: list[int]) -> dict[int, dict[str, int]]:
    """Rows per status (pending, created, updated, invalid), the total and `processed`."""
    counts = {pk: dict.fromkeys(OrderImportRow.Status.values, 0) for pk in job_ids}
    for row in (
        OrderImportRow.objects.filter(job_id__in=job_ids)
        .values("job_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts[row["job_id"]][row["status"]] = row["n"]
    for values in counts.values():
        values["total"] = sum(values.values())
        values["processed"] = values["total"] - values["pending"]
    return counts


def order_import_report(job: OrderImport) -> Iterator[list[str]]:
    """Every row: line, order_id, result, matched_by, stored reasons (English)."""
    yield ["line", "order_id", "result", "matched_by", "reason"]
    for row in job.rows.order_by("line").iterator(chunk_size=2000):
        yield [str(row.line), row.order_id, row.status, row.matched_by, row.error]


def template_rows() -> Iterator[list[str]]:
    yield TEMPLATE_HEADER
    yield from TEMPLATE_ROWS
