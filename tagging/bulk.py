"""Bulk tagging: tag or untag every customer of a segment, a CSV upload or a rule.

A job is planned at once, in one transaction, into one `BulkTagRow` per relation to change
(a customer held by two guides is tagged for both, as WeCom tags per guide) and one per CSV
line that could not be used, with the reason. Then a worker works through the pending rows
under a lease, one `mark_tag` per row through the rate limiter; each row's result and the
relation's new tags are saved in one transaction, so a killed worker's job resumes at the
first row not saved. A row whose WeCom call went through just before the kill is sent again
on resume: `mark_tag` is idempotent, so the customer ends with the tag once.
"""

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.services import audit_record
from contacts.models import Customer, Relation
from contacts.phones import customers_by_phone, phone_normalise
from scrm.csvfiles import csv_text
from scrm.wecom.client import WeComClient, wecom_client
from scrm.wecom.errors import WeComError
from tagging.models import AutoTagRule, BulkTagJob, BulkTagRow, Segment
from tagging.services import (
    TagInputError,
    actor_label,
    relation_mark_in_wecom,
    relation_tags_save,
    tags_check,
)

LEASE = timedelta(minutes=2)
BATCH = 100
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_LINES = 100_000
MAX_TAGS = 20
PHONE_RE = re.compile(r"^\+?\d{5,20}$")
ID_COLUMNS = {"external_userid", "客户id", "userid", "id"}
PHONE_COLUMNS = {"phone", "mobile", "手机", "手机号", "电话"}


# Why a row was not done, stored in English (BulkTagRow.error) and shown in the reader's
# language by `row_reason_text`; WeCom refusals store WeCom's meaning instead.
ROW_REASONS = {
    "empty cell": gettext_lazy("empty cell"),
    "neither an external_userid (wm…/wo…) nor a phone number": gettext_lazy(
        "neither an external_userid (wm…/wo…) nor a phone number"
    ),
    "no customer with this external_userid": gettext_lazy("no customer with this external_userid"),
    "no guide noted this phone number": gettext_lazy("no guide noted this phone number"),
    "no guide holds them now": gettext_lazy("no guide holds them now"),
    "the guide no longer holds this customer": gettext_lazy(
        "the guide no longer holds this customer"
    ),
}
SAME_AS_LINE = re.compile(r"same as line (?P<line>\d+)")


def row_reason_text(error: str) -> str:
    """A row's stored reason in the active language (unknown text is shown as stored)."""
    match = SAME_AS_LINE.fullmatch(error)
    if match:
        return _("same as line %(line)s") % {"line": match["line"]}
    known = ROW_REASONS.get(error)
    return str(known) if known is not None else error


class BulkInputError(ValueError):
    """A job that cannot be started: the message says why; nothing was saved."""


class BulkNotClaimed(Exception):
    """Another worker holds the job, or it is no longer running."""


def _job_create(
    *, action: str, tag_ids: list[str], source: str, actor: Any, **fields: Any
) -> BulkTagJob:
    if action not in BulkTagJob.Action.values:
        raise BulkInputError(_("action is add or remove"))
    if not tag_ids:
        raise BulkInputError(_("choose at least one tag"))
    if len(set(tag_ids)) > MAX_TAGS:
        raise BulkInputError(_("at most %(n)d tags per job") % {"n": MAX_TAGS})
    try:
        tags = tags_check(tag_ids) if action == BulkTagJob.Action.ADD else sorted(set(tag_ids))
    except TagInputError as exc:
        raise BulkInputError(str(exc)) from exc
    return BulkTagJob.objects.create(
        action=action, tag_ids=tags, source=source, created_by=actor_label(actor), **fields
    )


def _rows_insert_relations(job: BulkTagJob, relations_sql: str, params: list[Any]) -> int:
    """One pending row per relation id the SQL selects, in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO tagging_bulktagrow (job_id, line, value, relation_id, status, error)
            SELECT %s, 0, '', ids.id, 'pending', ''
            FROM ({relations_sql}) AS ids ORDER BY ids.id
            """,  # noqa: S608 - the SQL is compiled by the ORM, values are parameters
            [job.pk, *params],
        )
        return cursor.rowcount


def _finish_planning(job: BulkTagJob, actor: Any, detail: dict[str, Any]) -> BulkTagJob:
    job.total = job.rows.count()
    job.save(update_fields=["total"])
    audit_record(
        action="tags.bulk_started",
        actor=actor,
        target=job,
        detail={"action": job.action, "tags": job.tag_ids, "rows": job.total, **detail},
    )
    _enqueue(job)
    return job


def _enqueue(job: BulkTagJob) -> None:
    from scrm.tenant_tasks import enqueue
    from tagging.tasks import bulk_tag_job_task

    enqueue(bulk_tag_job_task, bulk_tag_job_id=job.pk)


def bulk_job_from_segment(
    *, segment: Segment, action: str, tag_ids: list[str], actor: Any
) -> BulkTagJob:
    """Every active relation of the segment's customers, frozen now."""
    from tagging.segments import segment_clean, segment_customers, segment_query_settings

    definition = segment_clean(segment.definition, check_exists=False)
    with segment_query_settings():  # one transaction: the job and all its rows, or nothing
        job = _job_create(
            action=action,
            tag_ids=tag_ids,
            source=BulkTagJob.Source.SEGMENT,
            actor=actor,
            segment=segment,
        )
        customers = segment_customers(definition).values("pk")
        relations = Relation.objects.filter(
            status=Relation.Status.ACTIVE, customer_id__in=customers
        ).values("id")
        sql, params = relations.query.sql_with_params()
        _rows_insert_relations(job, sql, list(params))
        return _finish_planning(job, actor, {"segment": segment.name})


def bulk_job_from_rule(*, rule: AutoTagRule, actor: Any) -> BulkTagJob:
    """A rule applied retroactively: its tags on every active relation it matches now."""
    from tagging.rules import rule_relations_q

    with transaction.atomic():
        job = _job_create(
            action=BulkTagJob.Action.ADD,
            tag_ids=list(rule.tag_ids),
            source=BulkTagJob.Source.RULE,
            actor=actor,
            rule=rule,
        )
        relations = Relation.objects.filter(
            rule_relations_q(rule), status=Relation.Status.ACTIVE
        ).values("id")
        sql, params = relations.query.sql_with_params()
        _rows_insert_relations(job, sql, list(params))
        return _finish_planning(job, actor, {"rule": rule.name})


# --- CSV ---------------------------------------------------------------------------------


@dataclass
class CsvLine:
    line: int
    value: str
    kind: str = ""  # "external_userid" | "phone" | "" (invalid)
    error: str = ""


def csv_lines(data: bytes) -> list[CsvLine]:
    """Each line's identifier and its kind; unusable lines carry the reason.

    One identifier per line: an external_userid (wm…/wo…) or a phone number noted by a
    guide. A header line is optional; with several columns, the column named
    external_userid (or phone / 手机号) is read, else the first.
    """
    if len(data) > MAX_CSV_BYTES:
        raise BulkInputError(
            _("the file is larger than %(n)d MB") % {"n": MAX_CSV_BYTES // (1024 * 1024)}
        )
    text = csv_text(data)
    if text is None:
        raise BulkInputError(_("the file is neither UTF-8 nor GBK text"))
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise BulkInputError(_("not a CSV file: %(error)s") % {"error": exc}) from exc
    column = 0
    start = 0
    if rows:
        header = [cell.strip().lower() for cell in rows[0]]
        named = [i for i, cell in enumerate(header) if cell in ID_COLUMNS | PHONE_COLUMNS]
        if named:
            column, start = named[0], 1
    lines: list[CsvLine] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[start:], start=start + 1):
        if not any(cell.strip() for cell in row):
            continue
        if len(lines) >= MAX_CSV_LINES:
            raise BulkInputError(_("at most %(n)d lines per file") % {"n": MAX_CSV_LINES})
        value = row[column].strip() if column < len(row) else ""
        item = CsvLine(line=number, value=value[:200])
        compact = re.sub(r"[\s-]", "", value)
        if not value:
            item.error = "empty cell"
        elif value in seen:
            item.error = f"same as line {seen[value]}"
        elif value.startswith(("wm", "wo")) and len(value) <= 64:
            item.kind = "external_userid"
        elif PHONE_RE.match(compact):
            item.kind, item.value = "phone", compact
        else:
            item.error = "neither an external_userid (wm…/wo…) nor a phone number"
        if item.kind:
            seen[value] = number
        lines.append(item)
    if not lines:
        raise BulkInputError(_("the file has no rows"))
    return lines


def _customers_of(lines: list[CsvLine]) -> dict[int, set[int]]:
    """line -> customer ids, for the lines with a usable identifier (bulk queries)."""
    found: dict[int, set[int]] = defaultdict(set)
    by_id = {item.value: item.line for item in lines if item.kind == "external_userid"}
    ids = list(by_id)
    for offset in range(0, len(ids), 5000):
        chunk = ids[offset : offset + 5000]
        for pk, external_userid in Customer.objects.filter(external_userid__in=chunk).values_list(
            "pk", "external_userid"
        ):
            found[by_id[external_userid]].add(pk)
    # a phone matches the remark phones in any spelling (+86, spaces, dashes)
    by_phone = {phone_normalise(item.value): item.line for item in lines if item.kind == "phone"}
    by_phone.pop("", None)
    for phone, customer_ids in customers_by_phone(by_phone).items():
        found[by_phone[phone]].update(customer_ids)
    return found


def bulk_job_from_csv(
    *, data: bytes, file_name: str, action: str, tag_ids: list[str], actor: Any
) -> BulkTagJob:
    """Every active relation of the customers the file names; unusable lines are rows too,
    with the reason, and the others still go ahead."""
    lines = csv_lines(data)
    with transaction.atomic():
        job = _job_create(
            action=action,
            tag_ids=tag_ids,
            source=BulkTagJob.Source.CSV,
            actor=actor,
            file_name=file_name[:200],
        )
        customers = _customers_of(lines)
        wanted = sorted({pk for pks in customers.values() for pk in pks})
        active: dict[int, list[int]] = defaultdict(list)
        for offset in range(0, len(wanted), 5000):
            for relation_id, customer_id in Relation.objects.filter(
                customer_id__in=wanted[offset : offset + 5000], status=Relation.Status.ACTIVE
            ).values_list("pk", "customer_id"):
                active[customer_id].append(relation_id)
        rows: list[BulkTagRow] = []
        invalid = BulkTagRow.Status.INVALID
        for item in lines:
            base = {"job": job, "line": item.line, "value": item.value}
            if item.error:
                rows.append(BulkTagRow(**base, status=invalid, error=item.error))
                continue
            matched = customers.get(item.line, set())
            relation_ids = sorted(r for pk in matched for r in active.get(pk, []))
            if not matched:
                error = (
                    "no customer with this external_userid"
                    if item.kind == "external_userid"
                    else "no guide noted this phone number"
                )
                rows.append(BulkTagRow(**base, status=invalid, error=error))
            elif not relation_ids:
                rows.append(BulkTagRow(**base, status=invalid, error="no guide holds them now"))
            else:
                rows += [BulkTagRow(**base, relation_id=r) for r in relation_ids]
        BulkTagRow.objects.bulk_create(rows, batch_size=5000)
        return _finish_planning(job, actor, {"file": job.file_name, "lines": len(lines)})


# --- running -----------------------------------------------------------------------------


def bulk_job_claim(*, job_id: int) -> BulkTagJob:
    """Take the job's lease (conditional UPDATE: two workers never both win)."""
    now = timezone.now()
    claimed = (
        BulkTagJob.objects.filter(pk=job_id, status=BulkTagJob.Status.RUNNING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE, heartbeat_at=now)
    )
    if not claimed:
        raise BulkNotClaimed(job_id)
    return BulkTagJob.objects.get(pk=job_id)


def _renew(job: BulkTagJob) -> bool:
    """Extend the lease; False when the job was cancelled meanwhile."""
    now = timezone.now()
    return bool(
        BulkTagJob.objects.filter(pk=job.pk, status=BulkTagJob.Status.RUNNING).update(
            lease_until=now + LEASE, heartbeat_at=now
        )
    )


def _row_finish(
    row: BulkTagRow, status: str, *, errcode: int | None = None, error: str = ""
) -> None:
    row.status, row.errcode, row.error, row.done_at = status, errcode, error[:300], timezone.now()
    row.save(update_fields=["status", "errcode", "error", "done_at"])


def _row_process(job: BulkTagJob, row: BulkTagRow, client: WeComClient) -> None:
    """One row: WeCom first, then the row's result and the relation's tags together."""
    relation = row.relation
    if relation is None or relation.status != Relation.Status.ACTIVE:
        _row_finish(row, BulkTagRow.Status.FAILED, error="the guide no longer holds this customer")
        return
    current = set(relation.wecom_tag_ids)
    if job.action == BulkTagJob.Action.ADD:
        add, remove = [t for t in job.tag_ids if t not in current], []
    else:
        add, remove = [], [t for t in job.tag_ids if t in current]
    if not add and not remove:
        _row_finish(row, BulkTagRow.Status.UNCHANGED)
        return
    try:
        relation_mark_in_wecom(client=client, relation=relation, add=add, remove=remove)
    except WeComError as exc:
        if exc.transient:
            raise  # the row stays pending; the task retries later
        _row_finish(
            row, BulkTagRow.Status.FAILED, errcode=exc.errcode, error=exc.meaning or str(exc)
        )
        return
    with transaction.atomic():
        relation_tags_save(
            relation_id=relation.pk, add=add, remove=remove, actor_label=f"bulk #{job.pk}"
        )
        _row_finish(row, BulkTagRow.Status.DONE)


def bulk_job_run(
    *, bulk_tag_job_id: int, max_rows: int | None = None, client: WeComClient | None = None
) -> str:
    """Work through the job's pending rows (at most `max_rows` this time); returns the job's
    status. Raises BulkNotClaimed if another worker holds it."""
    job = bulk_job_claim(job_id=bulk_tag_job_id)
    client = client or wecom_client(app_kind="customer_contact", priority="bulk")
    done = 0
    try:
        while max_rows is None or done < max_rows:
            limit = BATCH if max_rows is None else min(BATCH, max_rows - done)
            rows = list(
                BulkTagRow.objects.filter(job=job, status=BulkTagRow.Status.PENDING)
                .select_related("relation__guide", "relation__customer")
                .order_by("id")[:limit]
            )
            if not rows:
                BulkTagJob.objects.filter(pk=job.pk, status=BulkTagJob.Status.RUNNING).update(
                    status=BulkTagJob.Status.FINISHED, finished_at=timezone.now()
                )
                break
            for row in rows:
                _row_process(job, row, client)
                done += 1
            if not _renew(job):
                break  # cancelled
    finally:
        BulkTagJob.objects.filter(pk=job.pk).update(lease_until=None)
    job.refresh_from_db(fields=["status"])
    return job.status


def bulk_job_cancel(*, job: BulkTagJob, actor: Any) -> bool:
    """Stop a running job; rows not reached stay pending and are reported as such."""
    cancelled = BulkTagJob.objects.filter(pk=job.pk, status=BulkTagJob.Status.RUNNING).update(
        status=BulkTagJob.Status.CANCELLED, finished_at=timezone.now()
    )
    if cancelled:
        audit_record(action="tags.bulk_cancelled", actor=actor, target=job)
    return bool(cancelled)


def bulk_job_resume_stale() -> int:
    """Running jobs whose worker died (lease run out) are queued again."""
    stale = BulkTagJob.objects.filter(status=BulkTagJob.Status.RUNNING).filter(
        Q(lease_until__lt=timezone.now()) | Q(lease_until__isnull=True)
    )
    count = 0
    for job in stale:
        _enqueue(job)
        count += 1
    return count


def bulk_job_progress(job: BulkTagJob) -> dict[str, int]:
    """Rows per status (pending, done, unchanged, failed, invalid) and the total."""
    counts = dict.fromkeys(BulkTagRow.Status.values, 0)
    for row in job.rows.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    counts["total"] = sum(counts.values())
    return counts


def bulk_job_report(job: BulkTagJob) -> Iterator[list[str]]:
    """The per-row report as CSV cells: line, value, customer, guide, result, errcode, why."""
    yield ["line", "value", "external_userid", "guide", "result", "errcode", "reason"]
    rows = (
        job.rows.select_related("relation__guide", "relation__customer")
        .order_by("line", "id")
        .iterator(chunk_size=2000)
    )
    for row in rows:
        relation = row.relation
        yield [
            str(row.line or ""),
            row.value,
            relation.customer.external_userid if relation else "",
            relation.guide.userid if relation else "",
            row.status,
            "" if row.errcode is None else str(row.errcode),
            row.error,
        ]
