"""Auto-tag rules: tags a relation gets when it is added, by channel, add way, guide, store
and time; applied retroactively through a bulk tagging job (`bulk_job_from_rule`).

A rule's conditions are one filter on Relation (`rule_relations_q`), used both for the one
new relation of a callback and for every existing relation of a retroactive run, so the two
never disagree.
"""

from datetime import datetime, time
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from contacts.models import Guide, Relation, Store
from scrm.wecom.client import WeComClient
from tagging.models import AutoTagRule, Tag
from tagging.services import TagInputError, actor_label, relation_tags_change, tags_check


def rule_relations_q(rule: AutoTagRule) -> Q:
    """The relations the rule's conditions select (times in the tenant's time zone)."""
    from channels_qr.models import LiveCode

    q = Q()
    channel_ids = [c.pk for c in rule.channels.all()]
    if channel_ids:
        states = LiveCode.objects.filter(channel_id__in=channel_ids).values_list("state", flat=True)
        q &= Q(state__in=list(states))
    if rule.add_ways:
        q &= Q(add_way__in=rule.add_ways)
    guide_ids = [g.pk for g in rule.guides.all()]
    store_ids = [s.pk for s in rule.stores.all()]
    if guide_ids:
        q &= Q(guide_id__in=guide_ids)
    if store_ids:
        # Literal ids (see contacts.selectors): the planner misjudges the join.
        q &= Q(
            guide_id__in=list(
                Guide.objects.filter(store_id__in=store_ids).values_list("pk", flat=True)
            )
        )
    if rule.valid_from:
        q &= Q(added_at__gte=rule.valid_from)
    if rule.valid_until:
        q &= Q(added_at__lt=rule.valid_until)
    if rule.weekdays:
        q &= Q(added_at__iso_week_day__in=rule.weekdays)
    if rule.hour_from is not None and rule.hour_until is not None:
        start, end = Q(added_at__time__gte=rule.hour_from), Q(added_at__time__lt=rule.hour_until)
        # 22:00-06:00 runs over midnight
        q &= (start & end) if rule.hour_from < rule.hour_until else (start | end)
    return q


def rules_matching(relation_id: int) -> list[AutoTagRule]:
    """The active rules whose conditions the relation meets (one query for all rules)."""
    rules = list(
        AutoTagRule.objects.filter(is_active=True).prefetch_related("channels", "guides", "stores")
    )
    if not rules:
        return []
    hits = Relation.objects.filter(pk=relation_id).aggregate(
        **{f"r{rule.pk}": Count("pk", filter=rule_relations_q(rule)) for rule in rules}
    )
    return [rule for rule in rules if hits[f"r{rule.pk}"]]


def rules_apply(*, relation: Relation, client: WeComClient | None = None) -> list[str]:
    """Tag a newly added relation by the rules it meets; returns the tags added."""
    if relation.status != Relation.Status.ACTIVE:
        return []
    rules = rules_matching(relation.pk)
    wanted = sorted({t for rule in rules for t in rule.tag_ids})
    # A rule may name a tag deleted since: it is skipped, not an error.
    known = set(Tag.objects.filter(tag_id__in=wanted).values_list("tag_id", flat=True))
    to_add = [t for t in wanted if t in known and t not in relation.wecom_tag_ids]
    if not to_add:
        return []
    label = "rule: " + ", ".join(rule.name for rule in rules)
    relation_tags_change(relation=relation, actor=label, add=to_add, client=client)
    return to_add


def _clean_time(value: Any) -> time | None:
    if value in (None, ""):
        return None
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise TagInputError(_("“%(value)s” is not a time (HH:MM)") % {"value": value}) from None


def rule_save(
    *,
    rule: AutoTagRule | None,
    actor: Any,
    name: str,
    tag_ids: list[str],
    channel_ids: list[int] | None = None,
    add_ways: list[int] | None = None,
    guide_ids: list[int] | None = None,
    store_ids: list[int] | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    weekdays: list[int] | None = None,
    hour_from: Any = None,
    hour_until: Any = None,
    is_active: bool = True,
) -> AutoTagRule:
    """Create or update a rule; TagInputError says what is wrong and nothing is saved."""
    from channels_qr.models import Channel

    name = str(name or "").strip()
    if not name or len(name) > 100:
        raise TagInputError(_("give the rule a name of at most 100 characters"))
    if not tag_ids:
        raise TagInputError(_("choose at least one tag to apply"))
    tags = tags_check(tag_ids)
    weekdays = sorted(set(weekdays or []))
    if any(not 1 <= d <= 7 for d in weekdays):
        raise TagInputError(_("weekdays are 1 (Monday) to 7 (Sunday)"))
    start, end = _clean_time(hour_from), _clean_time(hour_until)
    if (start is None) != (end is None) or (start is not None and start == end):
        raise TagInputError(_("give both daily hours, different from each other, or neither"))
    if valid_from and valid_until and valid_from >= valid_until:
        raise TagInputError(_("the campaign's start is after its end"))
    related: dict[str, tuple[Any, list[int]]] = {
        _("unknown channels: %(ids)s"): (Channel.objects, channel_ids or []),
        _("unknown guides: %(ids)s"): (Guide.objects, guide_ids or []),
        _("unknown stores: %(ids)s"): (Store.objects, store_ids or []),
    }
    for message, (manager, ids) in related.items():
        if manager.filter(pk__in=ids).count() != len(set(ids)):
            raise TagInputError(message % {"ids": ids})
    with transaction.atomic():
        rule = rule or AutoTagRule(created_by=actor_label(actor))
        rule.name, rule.tag_ids, rule.is_active = name, tags, is_active
        rule.add_ways = sorted(set(add_ways or []))
        rule.valid_from, rule.valid_until = valid_from, valid_until
        rule.weekdays, rule.hour_from, rule.hour_until = weekdays, start, end
        rule.updated_at = timezone.now()
        rule.save()
        rule.channels.set(channel_ids or [])
        rule.guides.set(guide_ids or [])
        rule.stores.set(store_ids or [])
        audit_record(action="tags.rule_saved", actor=actor, target=rule, detail={"tags": tags})
    return rule


def rule_delete(*, rule: AutoTagRule, actor: Any) -> None:
    with transaction.atomic():
        audit_record(action="tags.rule_deleted", actor=actor, detail={"name": rule.name})
        rule.delete()
