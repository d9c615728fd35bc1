"""Reads of segments, auto-tag rules and bulk tagging jobs, shared by the console and the API.

Lists cost a fixed number of queries whatever their length: job progress for a whole page
is one grouped count, and the names behind the ids a definition or a rule mentions (tags,
guides, stores, channels) are read once per kind for everything on the page.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Count, Q, QuerySet

from contacts.models import Customer, Guide, Relation, Store
from tagging.models import AutoTagRule, BulkTagJob, BulkTagRow, Segment

GUIDE_SEARCH_LIMIT = 20


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.order_by("name", "id")


def segment_get(*, segment_id: int) -> Segment:
    """One segment; raises Segment.DoesNotExist."""
    return Segment.objects.get(pk=segment_id)


def rule_list() -> QuerySet[AutoTagRule]:
    """Rules with their channels, guides and stores prefetched (three queries in all)."""
    return AutoTagRule.objects.prefetch_related("channels", "guides", "stores").order_by(
        "name", "id"
    )


def rule_get(*, rule_id: int) -> AutoTagRule:
    """One rule with its conditions; raises AutoTagRule.DoesNotExist."""
    return rule_list().get(pk=rule_id)


def rule_matching_relations_count(rule: AutoTagRule) -> int:
    """Active relations the rule matches now: what applying it retroactively would tag."""
    from tagging.rules import rule_relations_q

    return Relation.objects.filter(rule_relations_q(rule), status=Relation.Status.ACTIVE).count()


def bulk_job_list() -> QuerySet[BulkTagJob]:
    """Jobs, newest first (keyset-paginable), with their segment and rule."""
    return BulkTagJob.objects.select_related("segment", "rule").order_by("-created_at", "-id")


def bulk_job_get(*, job_id: int) -> BulkTagJob:
    """One job; raises BulkTagJob.DoesNotExist."""
    return bulk_job_list().get(pk=job_id)


def bulk_jobs_progress(job_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """{job id: rows per status and total} for many jobs, in one grouped query (the shape
    of `tagging.bulk.bulk_job_progress`)."""
    ids = sorted(set(job_ids))
    progress = {job_id: dict.fromkeys(BulkTagRow.Status.values, 0) for job_id in ids}
    if ids:
        counts = (
            BulkTagRow.objects.filter(job_id__in=ids)
            .values("job_id", "status")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in counts:
            progress[row["job_id"]][row["status"]] = row["n"]
    for counts_of_job in progress.values():
        counts_of_job["total"] = sum(counts_of_job.values())
    return progress


def bulk_row_list(*, job: BulkTagJob, statuses: Iterable[str] = ()) -> QuerySet[BulkTagRow]:
    """A job's rows in file order (CSV line, then id), with relation, guide and customer."""
    rows = job.rows.select_related("relation__guide", "relation__customer")
    statuses = list(statuses)
    if statuses:
        rows = rows.filter(status__in=statuses)
    return rows.order_by("line", "id")


def guide_search(*, q: str, limit: int = GUIDE_SEARCH_LIMIT) -> list[Guide]:
    """Guides whose name contains `q` or whose userid starts with it (for pickers: a brand
    has too many guides for a drop-down)."""
    term = q.strip()
    if not term:
        return []
    condition = Q(name__icontains=term) | Q(userid__istartswith=term)
    if term.isdigit() and len(term) <= 18:
        condition |= Q(pk=int(term))
    return list(
        Guide.objects.select_related("store").filter(condition).order_by("name", "id")[:limit]
    )


def guide_label(guide: Guide) -> str:
    store = f" · {guide.store.name}" if guide.store is not None else ""
    return f"{guide.name} ({guide.userid}){store}"


# --- what the ids in segment definitions name ---------------------------------------------


def _conditions(node: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    if "field" in node:
        yield node
        return
    for child in node.get("rules") or []:
        yield from _conditions(child)


def definition_labels(definitions: Iterable[Any]) -> dict[str, dict[Any, str]]:
    """{field: {value: label}} for every value the definitions name: tags, guides, stores and
    channels read in one query per kind (none for a kind no definition uses); statuses,
    genders and customer types from their choices. Values that name nothing are left out."""
    from channels_qr.models import Channel
    from tagging.selectors import tags_by_ids

    wanted: dict[str, set[Any]] = defaultdict(set)
    for definition in definitions:
        for condition in _conditions(definition):
            values = condition.get("values")
            if isinstance(values, list):
                wanted[str(condition.get("field"))].update(
                    v for v in values if isinstance(v, str | int) and not isinstance(v, bool)
                )
    labels: dict[str, dict[Any, str]] = {
        "status": {str(k): str(v) for k, v in Relation.Status.choices},
        "gender": {int(k): str(v) for k, v in Customer.Gender.choices},
        "customer_type": {int(k): str(v) for k, v in Customer.Type.choices},
    }
    tags = tags_by_ids(str(v) for v in wanted.get("tags", ()))
    labels["tags"] = {tag_id: f"{tag.group.name} / {tag.name}" for tag_id, tag in tags.items()}
    ints = {field: [v for v in wanted.get(field, ()) if isinstance(v, int)] for field in wanted}
    labels["guide"] = (
        {g.pk: guide_label(g) for g in Guide.objects.select_related("store").filter(pk__in=ids)}
        if (ids := ints.get("guide"))
        else {}
    )
    labels["store"] = (
        {s.pk: s.name for s in Store.objects.filter(pk__in=ids)}
        if (ids := ints.get("store"))
        else {}
    )
    labels["channel"] = (
        {c.pk: c.name for c in Channel.objects.filter(pk__in=ids)}
        if (ids := ints.get("channel"))
        else {}
    )
    return labels
