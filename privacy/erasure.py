"""Erasing customers' personal information (删除个人信息), for any number of customers at once.

What an erasure does, customer by customer but in set-based statements (a fixed number for
a whole batch of customers, never one per row of a big table), in one transaction:

- the customer row stays, so that every count that includes them stays (dashboards,
  channel stats, group-send and handover results, lifecycle stages): its external_userid is
  replaced by an opaque `erased_<random>` id, and name, avatar, unionid, company and
  position are emptied (type and gender stay: they identify nobody and feed aggregates);
- every relation keeps its guide, channel, state, tags, dates and status; its remark,
  description, remark company and remark phones are emptied;
- timeline entries keep their kind, time and guide; their details are emptied;
- sidebar notes and follow-ups (free text about the person) and group chat memberships (a
  mirror of WeCom's member list; the chats' member counts are WeCom's and stay) are deleted;
- orders and custom events stay (amounts, items, times, the customer link) without the keys
  they came with (external_userid, unionid, phone) and without custom event properties;
  unmatched ones carrying the customer's keys lose those keys, except a phone that another
  customer also carries (an ambiguous phone is also that other person's number);
- group-send deliveries, handover items, welcome logs and bulk tagging rows keep their
  status; the external_userid they name becomes the opaque id;
- webhook events about the customer keep their shape with the opaque id and no name;
- raw WeCom callbacks about the customer (their `ExternalUserID`) have the id replaced in
  the XML and the payload; webhook receivers' answers about them are emptied;
- free text that may quote the customer's ids or phone numbers (the audit log, stored API
  answers of Idempotency-Keys, a CSV import not read yet) is searched for them, and each
  id and number found whole (in every spelling) is replaced, with the customer's name
  where it stands beside them; audit entries about the customer or their relations lose
  their details;
- a keyed hash of the external_userid is recorded (privacy.erased), so that the contact
  sync and callbacks skip the customer while a guide still has them in WeCom;
- one audit entry per customer, the only place their external_userid remains.
"""

# ruff: noqa: S608 - every statement names our own tables and columns; values are parameters

import json
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg2.extras import execute_values

from accounts.models import AuditLogEntry
from accounts.services import audit_record
from contacts.models import ERASED_ID_PREFIX, Customer, erased
from contacts.phones import PHONE_NOISE, phone_normalise, phone_spellings
from privacy.erased import id_hash, privacy_settings
from privacy.models import ErasedContact

ERASED_PREFIX = ERASED_ID_PREFIX
REDACTED = "[erased]"
ERASED_ACTION = "privacy.customer_erased"
# Shorter strings are not looked for in free text: they would match unrelated numbers.
NEEDLE_MIN = 5
NAME_MIN = 2


def is_erased_id(external_userid: str) -> bool:
    return external_userid.startswith(ERASED_PREFIX)


@dataclass
class Subject:
    """One customer being erased: their ids and every spelling of their phone numbers."""

    customer_id: int
    external_userid: str
    unionid: str
    name: str = ""
    erased_id: str = field(default_factory=lambda: ERASED_PREFIX + secrets.token_hex(12))
    phones: set[str] = field(default_factory=set)  # normalised
    needles: set[str] = field(default_factory=set)  # ids and phone spellings of free text

    def spellings(self, raw_phones: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for raw in raw_phones:
            raw = (raw or "").strip()
            normalised = phone_normalise(raw)
            found.update({raw, PHONE_NOISE.sub("", raw)})
            if normalised:
                self.phones.add(normalised)
                found.update(phone_spellings(normalised))
        return {spelling for spelling in found if len(spelling) >= NEEDLE_MIN}


@dataclass
class ErasureResult:
    customer_ids: list[int] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.customer_ids)


# A needle matches only as a whole: not inside a longer id or a longer number.
_BEFORE = r"(?<![A-Za-z0-9_+-])"
_AFTER = r"(?![A-Za-z0-9_-])"


@dataclass
class _Batch:
    subjects: list[Subject]
    replacements: dict[str, str]  # needle -> what replaces it
    relation_ids: list[int]

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        # longest first: a longer spelling wins over a shorter one it starts with
        needles = sorted(self.replacements, key=lambda needle: (-len(needle), needle))
        return re.compile(_BEFORE + "(" + "|".join(map(re.escape, needles)) + ")" + _AFTER)

    @property
    def like_patterns(self) -> list[str]:
        """LIKE patterns that find the rows of free text that may name the customers (the
        match is then checked whole, in Python)."""
        return ["%" + re.sub(r"([%_\\])", r"\\\1", needle) + "%" for needle in self.replacements]

    def scrubbed(self, value: Any) -> Any:
        """`value` (text or decoded JSON) with the customers' ids and numbers replaced, and
        the names of the customers it names by them (a name alone identifies nobody:
        another customer may have it, so it is replaced only beside their ids)."""
        text = json.dumps(value, ensure_ascii=False, default=str)
        found = {match.group(1) for match in self._pattern.finditer(text)}
        if not found:
            return value
        names = [s.name for s in self.subjects if len(s.name) >= NAME_MIN and found & s.needles]
        scrubbed = _replace(value, self._pattern, self.replacements)
        for name in sorted(names, key=len, reverse=True):
            scrubbed = _replace_text(scrubbed, name, REDACTED)
        return scrubbed

    @property
    def ids(self) -> list[int]:
        return [s.customer_id for s in self.subjects]

    @property
    def olds(self) -> list[str]:
        return [s.external_userid for s in self.subjects]

    @property
    def news(self) -> list[str]:
        return [s.erased_id for s in self.subjects]

    @property
    def unionids(self) -> list[str]:
        return sorted({s.unionid for s in self.subjects if s.unionid})

    @property
    def phones(self) -> list[str]:
        return sorted({p for s in self.subjects for p in s.phones})

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "ids": self.ids,
            "olds": self.olds,
            "news": self.news,
            "unionids": self.unionids,
            "phones": self.phones,
            "relation_ids": self.relation_ids,
            **extra,
        }


# The customers being erased as a relation: m(id, old, new).
MAP = "m (id, old, new) AS (SELECT * FROM unnest(%(ids)s::bigint[], %(olds)s::text[], %(news)s::text[]))"  # noqa: E501


def _lock_subjects(customer_ids: list[int]) -> list[Subject]:
    """The customers to erase, locked in id order; already erased ones are left out."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, external_userid, unionid, name FROM contacts_customer
            WHERE id = ANY(%s::bigint[]) AND external_userid NOT LIKE 'erased\\_%%'
            ORDER BY id FOR UPDATE
            """,
            [sorted(set(customer_ids))],
        )
        return [Subject(*row) for row in cursor.fetchall()]


def _phones_of(value: Any) -> list[str]:
    """Phone numbers in a remark edit's timeline details (now and `before`)."""
    if not isinstance(value, dict):
        return []
    found: list[str] = []
    for key in ("remark_mobiles", "before"):
        item = value.get(key)
        if key == "before":
            found += _phones_of(item)
        elif isinstance(item, list):
            found += [str(phone) for phone in item if phone]
    return found


def _batch(subjects: list[Subject]) -> _Batch:
    """Every phone number the platform holds for these customers, in all spellings: remark
    phones, the phones of their orders and events, and older numbers in remark edits."""
    ids = [s.customer_id for s in subjects]
    raw: dict[int, set[str]] = defaultdict(set)
    relation_ids: list[int] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, customer_id, remark_mobiles FROM contacts_relation "
            "WHERE customer_id = ANY(%s::bigint[])",
            [ids],
        )
        for relation_id, customer_id, mobiles in cursor.fetchall():
            relation_ids.append(relation_id)
            raw[customer_id].update(mobiles or [])
        cursor.execute(
            """
            SELECT customer_id, phone FROM orders_order
            WHERE customer_id = ANY(%(ids)s::bigint[]) AND phone <> ''
            UNION
            SELECT customer_id, phone FROM orders_customevent
            WHERE customer_id = ANY(%(ids)s::bigint[]) AND phone <> ''
            """,
            {"ids": ids},
        )
        for customer_id, phone in cursor.fetchall():
            raw[customer_id].add(phone)
        cursor.execute(
            "SELECT customer_id, data FROM contacts_customerevent "
            "WHERE customer_id = ANY(%s::bigint[]) AND kind = 'edited'",
            [ids],
        )
        for customer_id, data in cursor.fetchall():
            loaded = json.loads(data) if isinstance(data, str) else data
            raw[customer_id].update(_phones_of(loaded))
    replacements: dict[str, str] = {}
    for subject in subjects:
        subject.needles = subject.spellings(raw[subject.customer_id])
        for spelling in subject.needles:
            replacements[spelling] = REDACTED
        if len(subject.unionid) >= NEEDLE_MIN:
            replacements[subject.unionid] = REDACTED
            subject.needles.add(subject.unionid)
        replacements[subject.external_userid] = subject.erased_id
        subject.needles.add(subject.external_userid)
    return _Batch(subjects=subjects, replacements=replacements, relation_ids=sorted(relation_ids))


# --- free text ------------------------------------------------------------------------------


def _replace(value: Any, pattern: re.Pattern[str], replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(lambda match: replacements[match.group(1)], value)
    if isinstance(value, list):
        return [_replace(item, pattern, replacements) for item in value]
    if isinstance(value, dict):
        return {key: _replace(item, pattern, replacements) for key, item in value.items()}
    return value


def _replace_text(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_text(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace_text(item, old, new) for key, item in value.items()}
    return value


def _load(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _rows_update(table: str, columns: list[str], rows: list[tuple[Any, ...]], casts: str) -> int:
    """One UPDATE for all `rows` (id first, then `columns`, values already scrubbed)."""
    if not rows:
        return 0
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    statement = (
        f"UPDATE {table} AS t SET {assignments} "
        f"FROM (VALUES %s) AS v (id, {', '.join(columns)}) WHERE t.id = v.id"
    )
    with connection.cursor() as cursor:
        execute_values(cursor.cursor, statement, rows, template=f"({casts})", page_size=1000)
    return len(rows)


def _scrub_rows(batch: _Batch, *, table: str, columns: list[tuple[str, str]], where: str) -> int:
    """Rows of `table` that `where` selects, their `columns` ((name, "text" | "json"))
    scrubbed; only the rows that changed are written (one statement)."""
    names = [name for name, _kind in columns]
    statement = f"SELECT id, {', '.join(names)} FROM {table} WHERE {where}"
    with connection.cursor() as cursor:
        cursor.execute(statement, batch.params(patterns=batch.like_patterns))
        found = cursor.fetchall()
    rows = []
    for pk, *values in found:
        changed = False
        shaped: list[Any] = [pk]
        for (_name, kind), value in zip(columns, values, strict=True):
            loaded = _load(value) if kind == "json" else value
            scrubbed = batch.scrubbed(loaded)
            changed = changed or scrubbed != loaded
            shaped.append(json.dumps(scrubbed) if kind == "json" else scrubbed)
        if changed:
            rows.append(tuple(shaped))
    casts = ", ".join(["%s", *("%s::jsonb" if kind == "json" else "%s" for _n, kind in columns)])
    return _rows_update(table, names, rows, casts)


def _mentions(text: str) -> str:
    """A condition on `text` (an SQL expression) that finds rows which may name the
    customers: a substring search, cheap for the one customer of a request."""
    return f"{text} LIKE ANY(%(patterns)s::text[])"


def _scrub_audit_log(batch: _Batch, *, free_text: bool) -> int:
    """Entries about the customers or their relations lose their details (a remark edit
    records the remark and phones); with `free_text`, other entries naming their ids or
    numbers (an export filtered by a phone number) have them replaced."""
    customer_targets = [str(pk) for pk in batch.ids]
    relation_targets = [str(pk) for pk in batch.relation_ids]
    where = (
        "(target_type = 'contacts.customer' AND target_id = ANY(%(customer_targets)s::text[]))"
        " OR (target_type = 'contacts.relation'"
        " AND target_id = ANY(%(relation_targets)s::text[]))"
    )
    if free_text:
        where += " OR " + _mentions("(detail::text || ' ' || target_label)")
    statement = (
        "SELECT id, target_type, target_id, target_label, detail "
        f"FROM accounts_auditlogentry WHERE {where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            batch.params(
                patterns=batch.like_patterns,
                customer_targets=customer_targets,
                relation_targets=relation_targets,
            ),
        )
        found = cursor.fetchall()
    erased_ids = dict(zip(batch.ids, batch.news, strict=True))
    rows = []
    for pk, target_type, target_id, label, detail in found:
        detail = _load(detail)
        fields = sorted(detail) if isinstance(detail, dict) else []
        if target_type == "contacts.customer" and target_id in customer_targets:
            label, scrubbed = erased_ids[int(target_id)], {"erased": True, "fields": fields}
        elif target_type == "contacts.relation" and target_id in relation_targets:
            scrubbed = {"erased": True, "fields": fields}
        else:
            label, scrubbed = batch.scrubbed(label), batch.scrubbed(detail)
            if scrubbed == detail:
                continue
        rows.append((pk, label[:200], json.dumps(scrubbed)))
    return _rows_update(
        "accounts_auditlogentry", ["target_label", "detail"], rows, "%s, %s, %s::jsonb"
    )


def _scrub_callbacks(batch: _Batch) -> int:
    """Raw WeCom callbacks about the customers (`ExternalUserID`, the field of every
    external contact event), after the last one the retention job cleared with all before
    it: their ids replaced in the XML, the payload and the error."""
    checked = int(privacy_settings().callbacks_checked_id)
    return _scrub_rows(
        batch,
        table="wecom_callbackevent",
        columns=[("raw_xml", "text"), ("payload", "json"), ("last_error", "text")],
        where=f"id > {checked} AND payload->>'ExternalUserID' IN (SELECT unnest(%(olds)s::text[]))",
    )


def _scrub_free_text(batch: _Batch) -> dict[str, int]:
    """Stored API answers (Idempotency-Keys, kept 24 hours) and CSV imports not read yet."""
    return {
        "accounts_idempotencykey": _scrub_rows(
            batch,
            table="accounts_idempotencykey",
            columns=[("response_body", "json")],
            where=_mentions("response_body::text"),
        ),
        "orders_orderimport": _scrub_rows(
            batch,
            table="orders_orderimport",
            columns=[("content", "text")],
            where="content <> '' AND " + _mentions("content"),
        ),
    }


# --- structured rows ------------------------------------------------------------------------

STATEMENTS: list[tuple[str, str]] = [
    (
        "contacts_customer",
        f"""
        WITH {MAP}
        UPDATE contacts_customer c SET external_userid = m.new, name = '', avatar = '',
            unionid = '', corp_name = '', position = '', updated_at = %(now)s
        FROM m WHERE c.id = m.id
        """,
    ),
    (
        "contacts_relation",
        """
        UPDATE contacts_relation SET remark = '', description = '', remark_corp_name = '',
            remark_mobiles = '{}'
        WHERE customer_id = ANY(%(ids)s::bigint[])
          AND (remark <> '' OR description <> '' OR remark_corp_name <> ''
               OR remark_mobiles <> '{}')
        """,
    ),
    (
        "contacts_customerevent",
        """
        UPDATE contacts_customerevent SET data = '{}'::jsonb
        WHERE customer_id = ANY(%(ids)s::bigint[]) AND data <> '{}'::jsonb
        """,
    ),
    (
        "contacts_groupchatmember",
        """
        DELETE FROM contacts_groupchatmember
        WHERE customer_id = ANY(%(ids)s::bigint[])
           OR (kind = 2 AND userid IN (SELECT unnest(%(olds)s::text[])))
        """,
    ),
    ("sidebar_note", "DELETE FROM sidebar_note WHERE customer_id = ANY(%(ids)s::bigint[])"),
    (
        "sidebar_followup",
        "DELETE FROM sidebar_followup WHERE customer_id = ANY(%(ids)s::bigint[])",
    ),
    (
        "orders_order",
        """
        UPDATE orders_order SET external_userid = '', unionid = '', phone = ''
        WHERE customer_id = ANY(%(ids)s::bigint[])
          AND (external_userid <> '' OR unionid <> '' OR phone <> '')
        """,
    ),
    (
        "orders_customevent",
        """
        UPDATE orders_customevent SET external_userid = '', unionid = '', phone = '',
            properties = '{}'::jsonb
        WHERE customer_id = ANY(%(ids)s::bigint[])
          AND (external_userid <> '' OR unionid <> '' OR phone <> ''
               OR properties <> '{}'::jsonb)
        """,
    ),
    # Unmatched rows carrying one of the customers' keys (served by the partial indexes of
    # unmatched keys); an ambiguous phone is also another customer's and stays.
    *[
        (
            table,
            f"""
            UPDATE {table} SET
                external_userid = CASE WHEN external_userid = ANY(%(olds)s::text[])
                                       THEN '' ELSE external_userid END,
                unionid = CASE WHEN unionid = ANY(%(unionids)s::text[]) THEN '' ELSE unionid END,
                phone = CASE WHEN phone = ANY(%(phones)s::text[])
                                  AND match_problem <> 'ambiguous_phone'
                             THEN '' ELSE phone END
                {extra}
            WHERE customer_id IS NULL
              AND ((external_userid <> '' AND external_userid = ANY(%(olds)s::text[]))
                   OR (unionid <> '' AND unionid = ANY(%(unionids)s::text[]))
                   OR (phone <> '' AND phone = ANY(%(phones)s::text[])
                       AND match_problem <> 'ambiguous_phone'))
            """,
        )
        for table, extra in (
            ("orders_order", ""),
            ("orders_customevent", ", properties = '{}'::jsonb"),
        )
    ],
    (
        "orders_orderimportrow",
        """
        UPDATE orders_orderimportrow
        SET data = data || '{"external_userid": "", "unionid": "", "phone": ""}'::jsonb
        WHERE data->>'external_userid' = ANY(%(olds)s::text[])
           OR (data->>'unionid' <> '' AND data->>'unionid' = ANY(%(unionids)s::text[]))
           OR (data->>'phone' <> '' AND data->>'phone' = ANY(%(phones)s::text[]))
        """,
    ),
    # Deliveries before their broadcasts: the audience lists say which broadcasts named a
    # customer unknown when it was planned (a delivery without a customer link).
    (
        "broadcast_delivery",
        f"""
        WITH {MAP}
        UPDATE broadcast_delivery d SET target = m.new FROM m
        WHERE d.target = m.old
          AND (d.customer_id = ANY(%(ids)s::bigint[])
               OR d.broadcast_id IN (SELECT id FROM broadcast_broadcast
                                     WHERE audience_ids && %(olds)s::varchar[]))
        """,
    ),
    (
        "broadcast_broadcast",
        f"""
        WITH {MAP}
        UPDATE broadcast_broadcast b SET audience_ids = ARRAY(
            SELECT COALESCE(m.new, a.value)
            FROM unnest(b.audience_ids) WITH ORDINALITY AS a (value, n)
            LEFT JOIN m ON m.old = a.value ORDER BY a.n)
        WHERE b.audience_ids && %(olds)s::varchar[]
        """,
    ),
    (
        "handover_transferitem",
        f"""
        WITH {MAP}
        UPDATE handover_transferitem t SET external_id = m.new FROM m
        WHERE t.customer_id = m.id AND t.external_id = m.old
        """,
    ),
    (
        "channels_qr_welcomelog",
        f"""
        WITH {MAP}
        UPDATE channels_qr_welcomelog w SET external_userid = m.new FROM m
        WHERE w.external_userid = m.old
        """,
    ),
    (
        "tagging_bulktagrow",
        f"""
        WITH {MAP}
        UPDATE tagging_bulktagrow t
        SET value = CASE WHEN t.value = m.old THEN m.new ELSE '' END
        FROM contacts_relation r JOIN m ON m.id = r.customer_id
        WHERE t.relation_id = r.id AND r.id = ANY(%(relation_ids)s::bigint[]) AND t.value <> ''
        """,
    ),
]

# Every table with a link to contacts_customer, and what an erasure does with its rows
# (privacy/tests/test_erasure.py fails when a new one is not listed here).
CUSTOMER_TABLES = {
    "contacts_relation": "personal fields emptied",
    "contacts_customerevent": "details emptied",
    "contacts_groupchatmember": "deleted",
    "sidebar_note": "deleted",
    "sidebar_followup": "deleted",
    "orders_order": "keys emptied",
    "orders_customevent": "keys and properties emptied",
    "broadcast_delivery": "target becomes the opaque id",
    "handover_transferitem": "external_id becomes the opaque id",
    "lifecycle_customerstage": "kept: a stage and a date identify nobody, stage counts stay",
    "privacy_erasedcontact": "the keyed hash, written by the erasure",
}

WEBHOOK_EVENTS = f"""
WITH {MAP}
UPDATE webhooks_event e
SET data = jsonb_set(e.data, '{{customer}}', jsonb_build_object(
    'id', m.id, 'external_userid', m.new, 'name', '', 'unionid', ''))
FROM m
WHERE jsonb_typeof(e.data->'customer') = 'object' AND e.data->'customer'->>'id' = m.id::text
RETURNING e.id
"""
WEBHOOK_ATTEMPTS = """
UPDATE webhooks_attempt a SET response_excerpt = ''
FROM webhooks_delivery d
WHERE a.delivery_id = d.id AND d.event_id = ANY(%s::bigint[]) AND a.response_excerpt <> ''
"""


def _webhooks(batch: _Batch) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(WEBHOOK_EVENTS, batch.params())
        event_ids = [row[0] for row in cursor.fetchall()]
        attempts = 0
        if event_ids:
            cursor.execute(WEBHOOK_ATTEMPTS, [event_ids])
            attempts = cursor.rowcount
    return {"webhooks_event": len(event_ids), "webhooks_attempt": attempts}


def _record_hashes(batch: _Batch, *, reason: str, now: Any) -> None:
    key = privacy_settings().hash_key
    ErasedContact.objects.bulk_create(
        [
            ErasedContact(
                id_hash=id_hash(s.external_userid, key=key),
                customer_id=s.customer_id,
                reason=reason,
                erased_at=now,
            )
            for s in batch.subjects
        ],
        update_conflicts=True,
        unique_fields=["id_hash"],
        update_fields=["customer", "reason", "erased_at"],
    )


def _audit(batch: _Batch, *, actor: Any, reason: str, rows: dict[str, int], request: Any) -> None:
    """One entry per customer: the only place their external_userid remains. An operator
    or API key erases one customer; the retention job (no actor) many at once, as actor
    "retention"."""
    details = [
        {
            "external_userid": s.external_userid,
            "erased_id": s.erased_id,
            "reason": reason,
            "rows": rows if len(batch.subjects) == 1 else {},
            "customers_in_batch": len(batch.subjects),
        }
        for s in batch.subjects
    ]
    if actor is not None:
        if len(batch.subjects) != 1:
            raise ValueError("an operator or an API key erases one customer at a time")
        [subject] = batch.subjects
        audit_record(
            action=ERASED_ACTION,
            actor=actor,
            # the row as it is now (its str() is the opaque id), without reading it again
            target=Customer(pk=subject.customer_id, external_userid=subject.erased_id),
            detail=details[0],
            request=request,
        )
        return
    label = "retention" if reason == ErasedContact.Reason.RETENTION else "system"
    AuditLogEntry.objects.bulk_create(
        [
            AuditLogEntry(
                action=ERASED_ACTION,
                actor_type=AuditLogEntry.ActorType.SYSTEM,
                actor_label=label,
                target_type="contacts.customer",
                target_id=str(s.customer_id),
                target_label=s.erased_id,
                detail=detail,
            )
            for s, detail in zip(batch.subjects, details, strict=True)
        ]
    )


@transaction.atomic
def customers_erase(
    *,
    customer_ids: Iterable[int],
    actor: Any = None,
    reason: str = ErasedContact.Reason.REQUEST,
    request: Any = None,
    free_text: bool = True,
) -> ErasureResult:
    """Erase these customers' personal information (see the module's docstring); customers
    already erased are skipped. Locks the customer rows (in id order) until the commit.

    `actor` is the operator or API key who asked, or None with reason `retention`. Without
    `free_text` (the retention job, many customers at once) the substring search of the
    audit log's details and of stored API answers is left out: it reads those tables once
    per needle, and what they hold about customers inactive for the whole retention period
    has its own, shorter retention (audit log 365 days, API answers 24 hours)."""
    subjects = _lock_subjects(list(customer_ids))
    result = ErasureResult(customer_ids=[s.customer_id for s in subjects])
    if not subjects:
        return result
    batch = _batch(subjects)
    now = timezone.now()
    rows: dict[str, int] = defaultdict(int)
    with connection.cursor() as cursor:
        for table, statement in STATEMENTS:
            cursor.execute(statement, batch.params(now=now))
            rows[table] += max(cursor.rowcount, 0)
    for table, count in _webhooks(batch).items():
        rows[table] += count
    rows["wecom_callbackevent"] += _scrub_callbacks(batch)
    if free_text:
        for table, count in _scrub_free_text(batch).items():
            rows[table] += count
    rows["accounts_auditlogentry"] += _scrub_audit_log(batch, free_text=free_text)
    _record_hashes(batch, reason=reason, now=now)
    result.rows = {table: count for table, count in sorted(rows.items()) if count}
    _audit(batch, actor=actor, reason=reason, rows=result.rows, request=request)
    return result


def erased_customers() -> Q:
    """Customers erased so far (their opaque ids)."""
    return erased()
