"""Reads of the contact book, shared by the console, the API and exports.

Lists are keyset-paginated (`keyset_page`): a page is one index range scan whatever its
depth, which OFFSET cannot give at 20 million rows. Filters on relation attributes (guide,
store, status, add date, add way) select customers through EXISTS over one relation, so
"added by guide X last week" means one relation that matches both.
"""

import base64
import binascii
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import (
    Customer,
    CustomerEvent,
    GroupChat,
    GroupChatMember,
    Guide,
    Relation,
    Store,
    SyncRun,
    erased,
)

M = TypeVar("M", bound=Model)

PHONE_RE = re.compile(r"^\+?\d{5,20}$")


class InvalidCursor(ValueError):
    """A page cursor that this server did not hand out."""


@dataclass
class CustomerFilters:
    """What an operator or integrator can narrow the customers list by."""

    q: str = ""
    guide_id: int | None = None
    store_id: int | None = None
    status: str = ""
    added_from: date | None = None
    added_to: date | None = None
    add_way: int | None = None
    state: str = ""
    customer_type: int | None = None
    # Any of these WeCom tag ids on some relation of the customer.
    tag_ids: list[str] = field(default_factory=list)
    # A saved segment (tagging.Segment) the customer belongs to.
    segment_id: int | None = None
    # The channel (channels_qr.Channel) whose live code brought the relation.
    channel_id: int | None = None

    def relation_q(self) -> Q | None:
        """Conditions one relation must meet, or None when no relation filter is set."""
        q = Q()
        if self.guide_id is not None:
            q &= Q(guide_id=self.guide_id)
        if self.store_id is not None:
            # The store's guides as literal ids (one indexed query): joined through the
            # guide table instead, PostgreSQL at 20M relations expects ~100 guides for any
            # store and walks every customer when the store has none (a region, the root).
            guide_ids = list(
                Guide.objects.filter(store_id=self.store_id).values_list("pk", flat=True)
            )
            q &= Q(guide_id__in=guide_ids)
        if self.status:
            q &= Q(status=self.status)
        if self.added_from is not None:
            q &= Q(added_at__gte=_start_of(self.added_from))
        if self.added_to is not None:
            q &= Q(added_at__lt=_start_of(self.added_to + timedelta(days=1)))
        if self.add_way is not None:
            q &= Q(add_way=self.add_way)
        if self.state:
            q &= Q(state=self.state)
        if self.channel_id is not None:
            q &= Q(channel_id=self.channel_id)
        return q if q.children else None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in (None, "", []) for f in fields(self))


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _segment_q(segment_id: int) -> Q:
    """The saved segment's filter; an unknown segment matches nobody."""
    from tagging.models import Segment
    from tagging.segments import segment_clean, segment_q

    definition = Segment.objects.filter(pk=segment_id).values_list("definition", flat=True).first()
    if definition is None:
        return Q(pk__in=[])
    return segment_q(segment_clean(definition, check_exists=False))


def customer_search_ids(q: str) -> QuerySet[Any]:
    """Ids of customers whose name, a guide's remark or a remark phone matches `q`.

    A UNION of index scans (trigram on name and remark, GIN on phones), so a rare term is
    found without walking the whole table.
    """
    term = q.strip()
    by_name = Customer.objects.filter(name__icontains=term).values("id")
    by_remark = Relation.objects.filter(remark__icontains=term).values("customer_id")
    ids = by_name.union(by_remark)
    if PHONE_RE.match(term):
        ids = ids.union(
            Relation.objects.filter(remark_mobiles__contains=[term]).values("customer_id")
        )
    if term.startswith(("wm", "wo")):
        ids = ids.union(Customer.objects.filter(external_userid=term).values("id"))
    return ids


def customer_list(filters: CustomerFilters | None = None) -> QuerySet[Customer]:
    """Customers, newest add first, with each one's relations and guides prefetched."""
    filters = filters or CustomerFilters()
    qs = Customer.objects.all()
    relation_q = filters.relation_q()
    if relation_q is not None:
        qs = qs.filter(Exists(Relation.objects.filter(relation_q, customer_id=OuterRef("pk"))))
    if filters.customer_type is not None:
        qs = qs.filter(type=filters.customer_type)
    if filters.tag_ids:
        tagged = Relation.objects.filter(
            customer_id=OuterRef("pk"), wecom_tag_ids__overlap=filters.tag_ids
        )
        qs = qs.filter(Exists(tagged))
    if filters.segment_id is not None:  # as the segment counts them: erased ones left out
        qs = qs.filter(_segment_q(filters.segment_id)).exclude(erased())
    if filters.q.strip():
        qs = qs.filter(pk__in=customer_search_ids(filters.q))
    relations = Relation.objects.select_related("guide__store").order_by("-added_at", "-id")
    return qs.prefetch_related(Prefetch("relations", queryset=relations)).order_by(
        "-last_added_at", "-id"
    )


def customer_get(*, customer_id: int) -> Customer:
    relations = Relation.objects.select_related("guide__store").order_by("-added_at", "-id")
    return (
        Customer.objects.prefetch_related(Prefetch("relations", queryset=relations))
        .filter(pk=customer_id)
        .get()
    )


def relation_list(
    filters: CustomerFilters | None = None, *, customer_id: int | None = None
) -> QuerySet[Relation]:
    """Relations, newest first; the same filters as the customers list."""
    filters = filters or CustomerFilters()
    qs = Relation.objects.select_related("guide__store", "customer")
    relation_q = filters.relation_q()
    if relation_q is not None:
        qs = qs.filter(relation_q)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if filters.customer_type is not None:
        qs = qs.filter(customer__type=filters.customer_type)
    if filters.q.strip():
        qs = qs.filter(customer_id__in=customer_search_ids(filters.q))
    return qs.order_by("-added_at", "-id")


def customer_timeline(*, customer_id: int) -> QuerySet[CustomerEvent]:
    return (
        CustomerEvent.objects.filter(customer_id=customer_id)
        .select_related("guide")
        .order_by("-occurred_at", "-id")
    )


def guide_list(
    *, store_id: int | None = None, status: str = "", q: str = "", days: int = 7
) -> QuerySet[Guide]:
    """Guides with their active customer count and adds / deletes over the last `days`."""
    since = timezone.now() - timedelta(days=days)
    qs = Guide.objects.select_related("store")
    if store_id is not None:
        qs = qs.filter(store_id=store_id)
    if status:
        qs = qs.filter(status=status)
    if q.strip():
        qs = qs.filter(Q(name__icontains=q.strip()) | Q(userid=q.strip()))

    def count_of(relations: QuerySet[Relation]) -> Coalesce:
        counted = (
            relations.filter(guide_id=OuterRef("pk"))
            .order_by()
            .values("guide_id")
            .annotate(n=Count("*"))
            .values("n")
        )
        return Coalesce(Subquery(counted), 0)

    return qs.annotate(
        active_customers=count_of(Relation.objects.filter(status=Relation.Status.ACTIVE)),
        recent_adds=count_of(Relation.objects.filter(added_at__gte=since)),
        recent_deletes=count_of(
            Relation.objects.filter(
                deleted_at__gte=since,
                status__in=[Relation.Status.DELETED_BY_CUSTOMER, Relation.Status.DELETED_BY_GUIDE],
            )
        ),
    ).order_by("store__order", "store_id", "name", "id")


def group_chat_list(*, owner_id: int | None = None, status: str = "", q: str = "") -> QuerySet:
    qs = GroupChat.objects.select_related("owner__store")
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    if status:
        qs = qs.filter(status=status)
    if q.strip():
        qs = qs.filter(name__icontains=q.strip())
    return qs.order_by(F("created_at").desc(nulls_last=True), "-id")


def deletion_list(*, since: datetime | None = None) -> QuerySet[CustomerEvent]:
    """Recent deletions (删人提醒), either side, newest first."""
    qs = CustomerEvent.objects.filter(
        kind__in=[CustomerEvent.Kind.DELETED_BY_CUSTOMER, CustomerEvent.Kind.DELETED_BY_GUIDE]
    ).select_related("customer", "guide__store")
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    return qs.order_by("-occurred_at", "-id")


def guide_get(*, guide_id: int, days: int = 7) -> Guide:
    """One guide with the counts of `guide_list`; raises Guide.DoesNotExist."""
    return guide_list(days=days).filter(pk=guide_id).get()


def guide_find(*, ref: str) -> Guide | None:
    """The guide an operator means by `ref`: a WeCom userid, else our numeric id."""
    ref = ref.strip()
    if not ref:
        return None
    condition = Q(userid=ref)
    if ref.isdigit() and len(ref) <= 18:
        condition |= Q(pk=int(ref))
    matches = list(Guide.objects.select_related("store").filter(condition)[:2])
    for guide in matches:
        if guide.userid == ref:
            return guide
    return matches[0] if matches else None


def guides_find(*, refs: list[str]) -> tuple[list[Guide], list[str]]:
    """Guides named by userids or ids, in one query; also the refs that matched nobody."""
    refs = list(dict.fromkeys(r.strip() for r in refs if r.strip()))
    if not refs:
        return [], []
    ids = [int(r) for r in refs if r.isdigit() and len(r) <= 18]
    guides = list(Guide.objects.filter(Q(userid__in=refs) | Q(pk__in=ids)).order_by("pk"))
    by_userid = {g.userid: g for g in guides}
    by_id = {g.pk: g for g in guides}
    found: dict[int, Guide] = {}
    missing: list[str] = []
    for ref in refs:
        guide = by_userid.get(ref)
        if guide is None and ref.isdigit() and len(ref) <= 18:
            guide = by_id.get(int(ref))
        if guide is None:
            missing.append(ref)
        else:
            found[guide.pk] = guide
    return list(found.values()), missing


def group_chat_get(*, chat_id: int) -> GroupChat:
    return GroupChat.objects.select_related("owner__store").get(pk=chat_id)


def group_chat_member_list(*, chat_id: int) -> QuerySet[GroupChatMember]:
    """A chat's members: staff first, then by join time."""
    return (
        GroupChatMember.objects.filter(chat_id=chat_id)
        .select_related("guide", "customer")
        .order_by("kind", F("join_time").asc(nulls_last=True), "id")
    )


def sync_run_list(*, limit: int = 20) -> list[SyncRun]:
    """The latest sync runs, newest first, with `guide_total` and `batch_total` annotated
    (the userid checkpoint list itself is not loaded: it holds every guide)."""
    guide_total = Func(F("guide_userids"), function="CARDINALITY", output_field=IntegerField())
    return list(
        SyncRun.objects.select_related("requested_by")
        .defer("guide_userids")
        .annotate(guide_total=Coalesce(guide_total, 0))
        .annotate(batch_total=(F("guide_total") + 99) / 100)
        .order_by("-created_at", "-id")[:limit]
    )


def store_list() -> QuerySet[Store]:
    """Stores (WeCom departments), newest first: keyset-paginable."""
    return Store.objects.order_by("-id")


def guide_id_for_userid(userid: str) -> int | None:
    """Our id of the guide with this WeCom userid, or None."""
    return Guide.objects.filter(userid=userid.strip()).values_list("pk", flat=True).first()


# --- keyset pagination ---------------------------------------------------------------------


@dataclass
class KeysetPage(Generic[M]):
    items: list[M]
    next_cursor: str = ""
    has_previous: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _ordering(qs: QuerySet[Any]) -> list[str]:
    order = list(qs.query.order_by)
    if not order or any(not isinstance(o, str) or not o.startswith("-") for o in order):
        raise ValueError("keyset pagination needs a descending ordering by plain fields")
    if order[-1] != "-id":
        raise ValueError("keyset ordering must end with -id")
    return [str(o)[1:] for o in order]


def encode_cursor(values: list[Any]) -> str:
    text = "|".join(v.isoformat() if isinstance(v, datetime) else str(v) for v in values)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, qs: QuerySet[Any], names: list[str]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(cursor) from None
    parts = raw.split("|")
    if len(parts) != len(names):
        raise InvalidCursor(cursor)
    values: list[Any] = []
    for name, part in zip(names, parts, strict=True):
        model_field = qs.model._meta.get_field(name)
        try:
            if model_field.get_internal_type() == "DateTimeField":
                values.append(datetime.fromisoformat(part))
            else:
                values.append(int(part))
        except ValueError:
            raise InvalidCursor(cursor) from None
    return values


def keyset_page(qs: QuerySet[M], *, after: str = "", size: int = 50) -> KeysetPage[M]:
    """The page of `qs` after `after` (a cursor from the previous page), `size` rows.

    `qs` must be ordered descending by non-null fields ending with `-id`. Reads size+1 rows
    to know whether a next page exists; never counts.
    """
    names = _ordering(qs)
    if after:
        values = _decode_cursor(after, qs, names)
        # (a, id) < (x, y) spelled so PostgreSQL uses `a <= x` as the index condition.
        condition = Q()
        for index in range(len(names) - 1, -1, -1):
            strictly = Q(**{f"{names[index]}__lt": values[index]})
            condition = (
                strictly
                if index == len(names) - 1
                else strictly | (Q(**{names[index]: values[index]}) & condition)
            )
        qs = qs.filter(**{f"{names[0]}__lte": values[0]}).filter(condition)
    rows = list(qs[: size + 1])
    items = rows[:size]
    next_cursor = ""
    if len(rows) > size:
        last = items[-1]
        next_cursor = encode_cursor([getattr(last, name) for name in names])
    return KeysetPage(items=items, next_cursor=next_cursor, has_previous=bool(after))
