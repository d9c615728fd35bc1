"""Segments: audience definitions, checked once on save and evaluated in SQL.

A definition is a tree of groups and conditions, as JSON:

    {"op": "and", "rules": [
        {"field": "tags", "op": "any", "values": ["et_vip", "et_gold"]},
        {"op": "or", "rules": [
            {"field": "store", "op": "in", "values": [3]},
            {"field": "added", "op": "between", "from": "2026-11-01", "to": "2026-11-11"}
        ]},
        {"field": "tags", "op": "none", "values": ["et_do_not_disturb"]}
    ]}

A segment selects customers. Each condition is a question about one customer, answered
over all of the customer's relations (WeCom tags a customer per guide):

- tags: `any` of the tags on some relation, `all` of them across the customer's relations,
  `none` of them on any relation;
- channel, guide, store, status, added: some relation came from the channel, is held by the
  guide or a guide of the store, has the status, was added between the dates (inclusive);
  `not_in` is the negation (no relation does);
- gender, customer_type: the customer's own fields.

Each condition becomes an EXISTS over the relation table, so PostgreSQL picks between the
indexes (GIN on tags, the relation's guide and state indexes) and one hashed pass.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Customer, Guide, Relation, erased
from tagging.models import Segment

MAX_DEPTH = 4
MAX_CONDITIONS = 50
MAX_VALUES = 1000
# Hashing a million customer ids for a condition under OR needs more than the default
# 4 MB, or PostgreSQL probes the relation index row by row (bench/segments.py: about even
# at a million relations, worse beyond and on a cold cache).
WORK_MEM = "128MB"

LIST_FIELDS = ("channel", "guide", "store", "status", "gender", "customer_type")
FIELDS = ("tags", *LIST_FIELDS, "added")
TAG_OPS = ("any", "all", "none")
LIST_OPS = ("in", "not_in")


class SegmentError(ValueError):
    """A definition that cannot be evaluated; the message says where and why."""


def _fail(path: str, message: str) -> SegmentError:
    return SegmentError(f"{path}: {message}" if path else message)


def _values_known(field: str, values: list[Any]) -> set[Any]:
    """Which of the values name something that exists (a tag, a guide, ...)."""
    from channels_qr.models import Channel
    from contacts.models import Store
    from tagging.models import Tag

    if field == "tags":
        return set(Tag.objects.filter(tag_id__in=values).values_list("tag_id", flat=True))
    if field == "channel":
        return set(Channel.objects.filter(pk__in=values).values_list("pk", flat=True))
    if field == "guide":
        return set(Guide.objects.filter(pk__in=values).values_list("pk", flat=True))
    if field == "store":
        return set(Store.objects.filter(pk__in=values).values_list("pk", flat=True))
    if field == "status":
        return set(Relation.Status.values) & set(values)
    if field == "gender":
        return set(Customer.Gender.values) & set(values)
    if field == "customer_type":
        return set(Customer.Type.values) & set(values)
    return set()


def _clean_date(value: Any, path: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise _fail(path, _("“%(value)s” is not a date (YYYY-MM-DD)") % {"value": value}) from None


def _clean_condition(node: dict[str, Any], path: str, check_exists: bool) -> dict[str, Any]:
    field = node.get("field")
    op = node.get("op")
    if field not in FIELDS:
        raise _fail(path, _("unknown field “%(field)s”") % {"field": field})
    if field == "added":
        if op != "between":
            raise _fail(path, _("“added” takes op “between”"))
        start = _clean_date(node.get("from"), path)
        end = _clean_date(node.get("to"), path)
        if start is None and end is None:
            raise _fail(path, _("give a start date, an end date or both"))
        if start and end and start > end:
            raise _fail(path, _("the start date is after the end date"))
        return {"field": field, "op": op, "from": start, "to": end}
    allowed = TAG_OPS if field == "tags" else LIST_OPS
    if op not in allowed:
        raise _fail(
            path,
            _("“%(field)s” takes op %(ops)s") % {"field": field, "ops": " / ".join(allowed)},
        )
    values = node.get("values")
    if not isinstance(values, list) or not values:
        raise _fail(path, _("give at least one value"))
    if len(values) > MAX_VALUES:
        raise _fail(path, _("at most %(n)d values") % {"n": MAX_VALUES})
    if field in ("tags", "status"):
        if not all(isinstance(v, str) and v for v in values):
            raise _fail(path, _("values are strings"))
    elif not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise _fail(path, _("values are integer ids"))
    values = sorted(set(values))
    if check_exists or field in ("status", "gender", "customer_type"):
        unknown = [v for v in values if v not in _values_known(field, values)]
        if unknown:
            raise _fail(
                path,
                _("unknown %(field)s: %(values)s")
                % {"field": field, "values": ", ".join(map(str, unknown[:10]))},
            )
    return {"field": field, "op": op, "values": values}


def segment_clean(definition: Any, *, check_exists: bool = True) -> dict[str, Any]:
    """The definition in its normal form, or SegmentError. `check_exists` also refuses tags,
    guides, stores and channels that do not exist (on save; a saved segment whose tag was
    deleted since still evaluates: the tag matches nobody)."""
    counter = {"conditions": 0}

    def walk(node: Any, path: str, depth: int) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise _fail(path, _("expected an object"))
        if "field" in node:
            counter["conditions"] += 1
            if counter["conditions"] > MAX_CONDITIONS:
                raise _fail("", _("at most %(n)d conditions") % {"n": MAX_CONDITIONS})
            return _clean_condition(node, path, check_exists)
        if node.get("op") not in ("and", "or"):
            raise _fail(path, _("a group's op is “and” or “or”"))
        if depth > MAX_DEPTH:
            raise _fail(path, _("groups nest at most %(n)d deep") % {"n": MAX_DEPTH})
        rules = node.get("rules")
        if not isinstance(rules, list) or (depth > 1 and not rules):
            raise _fail(path, _("a group needs a list of rules"))
        return {
            "op": node["op"],
            "rules": [
                walk(child, f"{path}.rules[{i}]" if path else f"rules[{i}]", depth + 1)
                for i, child in enumerate(rules)
            ],
        }

    return walk(definition, "", 1)


def _start_of(day: str) -> datetime:
    return timezone.make_aware(datetime.combine(date.fromisoformat(day), time.min))


def _has_relation(condition: Q) -> Q:
    return Q(Exists(Relation.objects.filter(condition, customer_id=OuterRef("pk"))))


def _store_guides(store_ids: list[int]) -> list[int]:
    # Literal ids, as in the customers list: the planner misjudges a join through guides.
    return list(Guide.objects.filter(store_id__in=store_ids).values_list("pk", flat=True))


def _condition_q(node: dict[str, Any]) -> Q:
    from channels_qr.models import LiveCode

    field, op = node["field"], node["op"]
    if field == "tags":
        tags = node["values"]
        if op == "all":
            q = Q()
            for tag in tags:
                q &= _has_relation(Q(wecom_tag_ids__contains=[tag]))
            return q
        any_of = _has_relation(Q(wecom_tag_ids__overlap=tags))
        return ~any_of if op == "none" else any_of
    if field == "added":
        relation_q = Q()
        if node.get("from"):
            relation_q &= Q(added_at__gte=_start_of(node["from"]))
        if node.get("to"):
            end = (date.fromisoformat(node["to"]) + timedelta(days=1)).isoformat()
            relation_q &= Q(added_at__lt=_start_of(end))
        return _has_relation(relation_q)
    values = node["values"]
    if field == "gender":
        q = Q(gender__in=values)
    elif field == "customer_type":
        q = Q(type__in=values)
    elif field == "guide":
        q = _has_relation(Q(guide_id__in=values))
    elif field == "store":
        q = _has_relation(Q(guide_id__in=_store_guides(values)))
    elif field == "status":
        q = _has_relation(Q(status__in=values))
    else:  # channel: literal states, like the store's guide ids
        states = list(
            LiveCode.objects.filter(channel_id__in=values).values_list("state", flat=True)
        )
        q = _has_relation(Q(state__in=states))
    return ~q if op == "not_in" else q


def segment_q(definition: dict[str, Any]) -> Q:
    """A filter on Customer for a cleaned definition."""
    if "field" in definition:
        return _condition_q(definition)
    parts = [segment_q(child) for child in definition["rules"]]
    if not parts:
        return Q()
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if definition["op"] == "and" else combined | part
    return combined


def segment_customers(definition: dict[str, Any]) -> QuerySet[Customer]:
    """The segment's customers; erased ones are in no segment (nothing may reach them)."""
    return Customer.objects.filter(segment_q(definition)).exclude(erased())


@contextmanager
def segment_query_settings() -> Iterator[None]:
    """Run segment queries with memory enough to hash the big sets (one transaction)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        yield


def segment_count(definition: dict[str, Any]) -> int:
    with segment_query_settings():
        return segment_customers(definition).count()


def segment_save(
    *,
    segment: Segment | None,
    actor: Any,
    name: str,
    definition: Any,
    description: str = "",
) -> Segment:
    """Create or update a saved segment (definition checked, its count refreshed)."""
    from accounts.services import audit_record
    from tagging.services import actor_label

    name = str(name or "").strip()
    if not name or len(name) > 100:
        raise SegmentError(_("give the segment a name of at most 100 characters"))
    same_name = Segment.objects.filter(name=name)
    if segment is not None:
        same_name = same_name.exclude(pk=segment.pk)
    if same_name.exists():
        raise SegmentError(_("a segment named “%(name)s” exists") % {"name": name})
    cleaned = segment_clean(definition)
    count = segment_count(cleaned)
    now = timezone.now()
    with transaction.atomic():
        segment = segment or Segment(created_by=actor_label(actor), created_at=now)
        segment.name, segment.description = name, str(description or "")[:500]
        segment.definition, segment.updated_at = cleaned, now
        segment.last_count, segment.last_counted_at = count, now
        segment.save()
        audit_record(action="segments.saved", actor=actor, target=segment, detail={"count": count})
    return segment


def segment_delete(*, segment: Segment, actor: Any) -> None:
    from accounts.services import audit_record

    with transaction.atomic():
        audit_record(action="segments.deleted", actor=actor, detail={"name": segment.name})
        segment.delete()


def segment_refresh_count(segment: Segment) -> int:
    """Count the saved segment now (a deleted tag in it matches nobody)."""
    count = segment_count(segment_clean(segment.definition, check_exists=False))
    segment.last_count, segment.last_counted_at = count, timezone.now()
    segment.save(update_fields=["last_count", "last_counted_at"])
    return count
