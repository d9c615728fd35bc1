"""Who takes over which customer: a plan computed without writing anything, so the operator
previews it and the same function, run again inside the confirming transaction, fixes it.

Rules that hold for every mode:
- never a departed guide, nor a guide outside WeCom's customer-contact range, nor one of the
  guides handed over;
- a taker never goes over the maximum of customers per guide (their active customers now
  plus what this handover gives them); customers left over are `unallocated`, with the
  reason, and can be re-allocated later;
- "evenly": among the takers with room, the counts differ by at most one;
- on-duty moves: a customer WeCom already moved twice in 90 days (by the platform's own
  records) is `skipped`, not sent (WeCom would refuse it with 40128).
"""

import csv
import heapq
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.models import Customer, GroupChat, Guide, Relation, Store, erased
from handover.models import Handover, TransferItem
from scrm.csvfiles import csv_text

ONJOB_LIMIT = 2  # on-duty transfers per customer (and per group chat) in 90 days
ONJOB_WINDOW = timedelta(days=90)
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_LINES = 200_000

# Why an item was not allocated, stored in English (TransferItem.error) and translated when
# shown (`reason_text`).
NO_TAKER = "no takeover guide has room"
NO_STORE_GUIDE = "no active guide in the store"
NOT_IN_CSV = "not in the CSV file"
TWICE_IN_90_DAYS = "already transferred twice in 90 days"


REASONS = {
    NO_TAKER: gettext_lazy("no takeover guide has room"),
    NO_STORE_GUIDE: gettext_lazy("no active guide in the store"),
    NOT_IN_CSV: gettext_lazy("not in the CSV file"),
    TWICE_IN_90_DAYS: gettext_lazy("already transferred twice in 90 days"),
    "needs two columns": gettext_lazy("needs two columns"),
    "customer named twice": gettext_lazy("customer named twice"),
    "no customer with this external_userid": gettext_lazy("no customer with this external_userid"),
    "not a customer of the guides handed over": gettext_lazy(
        "not a customer of the guides handed over"
    ),
    "no guide with this userid": gettext_lazy("no guide with this userid"),
    "this guide cannot take over (departed, handed over or out of range)": gettext_lazy(
        "this guide cannot take over (departed, handed over or out of range)"
    ),
    "no longer a customer of the guide": gettext_lazy("no longer a customer of the guide"),
    "WeCom did not answer for it": gettext_lazy("WeCom did not answer for it"),
    "WeCom has no record of this transfer": gettext_lazy("WeCom has no record of this transfer"),
}


def reason_text(error: str) -> str:
    """A stored reason (English) in the active language; WeCom's meanings pass through."""
    known = REASONS.get(error)
    return str(known) if known is not None else error


class HandoverInputError(ValueError):
    """A handover that cannot be planned: the message says why (in the user's language)."""


@dataclass
class Planned:
    target: str
    external_id: str
    from_guide_id: int
    customer_id: int | None = None
    chat_id: int | None = None
    to_guide_id: int | None = None
    status: str = TransferItem.Status.PENDING
    error: str = ""


@dataclass
class TakerLoad:
    guide: Guide
    current: int  # active customers now
    room: int | None  # customers they may still take (None: no maximum)
    customers: int = 0  # received in this plan
    chats: int = 0


@dataclass
class CsvProblem:
    line: int
    value: str
    reason: str


@dataclass
class AllocationPlan:
    kind: str
    from_guides: list[Guide]
    items: list[Planned] = field(default_factory=list)
    takers: dict[int, TakerLoad] = field(default_factory=dict)
    csv_problems: list[CsvProblem] = field(default_factory=list)
    # Customers already in another handover's transfer: left out of this one.
    in_flight: int = 0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for item in self.items:
            counts[f"{item.target}:{item.status}"] += 1
        return dict(counts)

    @property
    def customers_allocated(self) -> int:
        return self.counts().get("customer:pending", 0)

    @property
    def chats_allocated(self) -> int:
        return self.counts().get("chat:pending", 0)


def spread_evenly(count: int, rooms: Sequence[int | None]) -> list[int | None]:
    """For `count` items, the index of the taker of each (None: no one has room).

    Each item goes to the taker with the fewest items so far among those with room (ties: the
    first listed), so counts differ by at most one among takers that did not run out of room.
    """
    heap = [(0, index) for index, room in enumerate(rooms) if room is None or room > 0]
    heapq.heapify(heap)
    given = [0] * len(rooms)
    result: list[int | None] = []
    for _n in range(count):
        if not heap:
            result.append(None)
            continue
        taken, index = heapq.heappop(heap)
        result.append(index)
        given[index] = taken + 1
        room = rooms[index]
        if room is None or given[index] < room:
            heapq.heappush(heap, (taken + 1, index))
    return result


def handover_kind(guides: Iterable[Guide]) -> str:
    statuses = {guide.status for guide in guides}
    if statuses == {Guide.Status.DEPARTED}:
        return Handover.Kind.RESIGNED
    if statuses == {Guide.Status.ACTIVE}:
        return Handover.Kind.ON_DUTY
    if not statuses:
        raise HandoverInputError(_("choose at least one guide to hand over"))
    raise HandoverInputError(
        _("hand over departed guides and working guides separately: WeCom has two kinds")
    )


def _eligible(guides: Iterable[Guide], excluded: set[int]) -> list[Guide]:
    return [
        g
        for g in guides
        if g.status == Guide.Status.ACTIVE and g.customer_contact and g.pk not in excluded
    ]


def _loads(takers: list[Guide], max_per_guide: int | None) -> dict[int, TakerLoad]:
    """Each taker's customers now: active relations plus customers on their way to them in
    any handover (so two handovers at once never push a taker past the maximum)."""
    current = dict(
        Relation.objects.filter(guide__in=takers, status=Relation.Status.ACTIVE)
        .values("guide")
        .annotate(n=Count("id"))
        .values_list("guide", "n")
    )
    incoming = dict(
        TransferItem.objects.filter(
            to_guide__in=takers,
            target=TransferItem.Target.CUSTOMER,
            status__in=TransferItem.IN_FLIGHT,
        )
        .values("to_guide")
        .annotate(n=Count("id"))
        .values_list("to_guide", "n")
    )
    loads = {}
    for guide in takers:
        now = current.get(guide.pk, 0) + incoming.get(guide.pk, 0)
        room = None if max_per_guide is None else max(0, max_per_guide - now)
        loads[guide.pk] = TakerLoad(guide=guide, current=now, room=room)
    return loads


def _named_takers(takers: Iterable[Guide], from_ids: set[int]) -> list[Guide]:
    result = []
    for guide in takers:
        if guide.pk in from_ids:
            raise HandoverInputError(
                _("%(name)s is handed over and cannot also take over") % {"name": guide.name}
            )
        if guide.status != Guide.Status.ACTIVE:
            raise HandoverInputError(
                _("%(name)s has left the company and cannot take over customers")
                % {"name": guide.name}
            )
        if not guide.customer_contact:
            raise HandoverInputError(
                _("%(name)s is outside WeCom's customer-contact range") % {"name": guide.name}
            )
        result.append(guide)
    return result


def _onjob_overused(external_ids: list[str], target: str) -> set[str]:
    """Customers (or chats) WeCom already moved on duty twice in the last 90 days."""
    since = timezone.now() - ONJOB_WINDOW
    overused: set[str] = set()
    for start in range(0, len(external_ids), 5000):
        chunk = external_ids[start : start + 5000]
        overused |= set(
            TransferItem.objects.filter(
                handover__kind=Handover.Kind.ON_DUTY,
                target=target,
                external_id__in=chunk,
                sent_at__gte=since,
            )
            .values("external_id")
            .annotate(n=Count("id"))
            .filter(n__gte=ONJOB_LIMIT)
            .values_list("external_id", flat=True)
        )
    return overused


def _customer_items(from_guides: list[Guide]) -> tuple[list[Planned], int]:
    """One item per active relation of the guides, minus those already in flight."""
    in_flight = set(
        TransferItem.objects.filter(
            from_guide__in=from_guides,
            target=TransferItem.Target.CUSTOMER,
            status__in=TransferItem.IN_FLIGHT,
        ).values_list("from_guide_id", "external_id")
    )
    items = []
    skipped = 0
    rows = (
        Relation.objects.filter(guide__in=from_guides, status=Relation.Status.ACTIVE)
        .exclude(erased("customer__"))  # their WeCom id is gone: nothing to transfer
        .order_by("guide_id", "customer_id")
        .values_list("guide_id", "customer_id", "customer__external_userid")
    )
    for guide_id, customer_id, external_userid in rows.iterator(chunk_size=5000):
        if (guide_id, external_userid) in in_flight:
            skipped += 1
            continue
        items.append(
            Planned(
                target=TransferItem.Target.CUSTOMER,
                external_id=external_userid,
                from_guide_id=guide_id,
                customer_id=customer_id,
            )
        )
    return items, skipped


def _chat_items(from_guides: list[Guide]) -> list[Planned]:
    in_flight = set(
        TransferItem.objects.filter(
            from_guide__in=from_guides,
            target=TransferItem.Target.CHAT,
            status__in=TransferItem.IN_FLIGHT,
        ).values_list("external_id", flat=True)
    )
    chats = GroupChat.objects.filter(owner__in=from_guides).exclude(
        status__in=[GroupChat.Status.DISMISSED, GroupChat.Status.HANDOVER_DONE]
    )
    return [
        Planned(
            target=TransferItem.Target.CHAT,
            external_id=chat.chat_id,
            from_guide_id=chat.owner_id or 0,
            chat_id=chat.pk,
        )
        for chat in chats.order_by("pk")
        if chat.chat_id not in in_flight
    ]


def _assign(items: list[Planned], takers: list[TakerLoad], *, chats: bool) -> None:
    """Spread `items` over `takers` evenly; customers use up room, chats do not."""
    rooms: list[int | None] = [
        None if chats or t.room is None else t.room - t.customers for t in takers
    ]
    for item, index in zip(items, spread_evenly(len(items), rooms), strict=True):
        if index is None:
            item.status, item.error = TransferItem.Status.UNALLOCATED, NO_TAKER
            continue
        load = takers[index]
        item.to_guide_id = load.guide.pk
        if chats:
            load.chats += 1
        else:
            load.customers += 1


def csv_mapping(data: bytes) -> tuple[dict[str, tuple[str, int]], list[CsvProblem]]:
    """external_userid -> (takeover userid, line) from a two-column CSV (header optional)."""
    if len(data) > MAX_CSV_BYTES:
        raise HandoverInputError(_("the file is larger than 5 MB"))
    text = csv_text(data)
    if text is None:
        raise HandoverInputError(_("the file is neither UTF-8 nor GBK text"))
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise HandoverInputError(_("not a CSV file: %(error)s") % {"error": exc}) from exc
    mapping: dict[str, tuple[str, int]] = {}
    problems: list[CsvProblem] = []
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and not cells[0].startswith(("wm", "wo")):
            continue  # a header line
        if len(mapping) + len(problems) >= MAX_CSV_LINES:
            raise HandoverInputError(_("at most %(n)d lines per file") % {"n": MAX_CSV_LINES})
        if len(cells) < 2 or not cells[0] or not cells[1]:
            problems.append(CsvProblem(number, ",".join(cells)[:100], "needs two columns"))
        elif cells[0] in mapping:
            problems.append(CsvProblem(number, cells[0], "customer named twice"))
        else:
            mapping[cells[0]] = (cells[1], number)
    if not mapping and not problems:
        raise HandoverInputError(_("the file has no rows"))
    return mapping, problems


def allocation_plan(
    *,
    from_guides: Sequence[Guide],
    mode: str,
    takers: Sequence[Guide] = (),
    store: Store | None = None,
    max_per_guide: int | None = None,
    csv_data: bytes | None = None,
    include_chats: bool = True,
) -> AllocationPlan:
    """The plan for handing `from_guides` over; reads, never writes."""
    from_guides = list(from_guides)
    kind = handover_kind(from_guides)
    if max_per_guide is not None and max_per_guide < 1:
        raise HandoverInputError(_("the maximum per guide must be at least 1"))
    from_ids = {g.pk for g in from_guides}
    plan = AllocationPlan(kind=kind, from_guides=from_guides)
    customers, plan.in_flight = _customer_items(from_guides)
    chats = _chat_items(from_guides) if include_chats else []

    if mode in (Handover.Mode.ONE, Handover.Mode.EVEN_LIST):
        chosen = _named_takers(takers, from_ids)
        if not chosen:
            raise HandoverInputError(_("choose the takeover guide"))
        if mode == Handover.Mode.ONE and len(chosen) != 1:
            raise HandoverInputError(_("choose exactly one takeover guide"))
        plan.takers = _loads(chosen, max_per_guide)
        loads = list(plan.takers.values())
        _assign(customers, loads, chats=False)
        _assign(chats, loads, chats=True)
    elif mode == Handover.Mode.EVEN_CHOSEN_STORE:
        if store is None:
            raise HandoverInputError(_("choose the store whose guides take over"))
        candidates = _eligible(store.guides.all(), from_ids)
        if not candidates:
            raise HandoverInputError(
                _("%(store)s has no active guide to take over") % {"store": store.name}
            )
        plan.takers = _loads(candidates, max_per_guide)
        loads = list(plan.takers.values())
        _assign(customers, loads, chats=False)
        _assign(chats, loads, chats=True)
    elif mode == Handover.Mode.EVEN_STORE:
        stores = {g.pk: g.store_id for g in from_guides}
        store_ids = {s for s in stores.values() if s is not None}
        candidates = _eligible(
            Guide.objects.filter(store_id__in=store_ids).order_by("pk"), from_ids
        )
        plan.takers = _loads(candidates, max_per_guide)
        by_store: dict[int | None, list[TakerLoad]] = defaultdict(list)
        for load in plan.takers.values():
            by_store[load.guide.store_id].append(load)
        for from_guide in from_guides:
            store_loads = by_store.get(from_guide.store_id, []) if from_guide.store_id else []
            mine = [i for i in customers if i.from_guide_id == from_guide.pk]
            mine_chats = [i for i in chats if i.from_guide_id == from_guide.pk]
            if not store_loads:
                for item in mine + mine_chats:
                    item.status, item.error = TransferItem.Status.UNALLOCATED, NO_STORE_GUIDE
                continue
            _assign(mine, store_loads, chats=False)
            _assign(mine_chats, store_loads, chats=True)
    elif mode == Handover.Mode.CSV:
        if not csv_data:
            raise HandoverInputError(_("upload the CSV file: customer, takeover guide"))
        _assign_by_csv(plan, customers, chats, csv_data, from_ids, max_per_guide)
    else:
        raise HandoverInputError(_("unknown allocation: %(mode)s") % {"mode": mode})

    if kind == Handover.Kind.ON_DUTY:
        for target, items in (
            (TransferItem.Target.CUSTOMER, customers),
            (TransferItem.Target.CHAT, chats),
        ):
            overused = _onjob_overused([i.external_id for i in items], target)
            for item in items:
                if item.external_id in overused:
                    _unassign(plan, item)
                    item.status, item.error = TransferItem.Status.SKIPPED, TWICE_IN_90_DAYS
    plan.items = customers + chats
    return plan


def _unassign(plan: AllocationPlan, item: Planned) -> None:
    load = plan.takers.get(item.to_guide_id or 0)
    if load is not None:
        if item.target == TransferItem.Target.CHAT:
            load.chats -= 1
        else:
            load.customers -= 1
    item.to_guide_id = None


def _assign_by_csv(
    plan: AllocationPlan,
    customers: list[Planned],
    chats: list[Planned],
    data: bytes,
    from_ids: set[int],
    max_per_guide: int | None,
) -> None:
    mapping, plan.csv_problems = csv_mapping(data)
    userids = {userid for userid, _line in mapping.values()}
    named = {g.userid: g for g in Guide.objects.filter(userid__in=userids)}
    usable = {
        g.pk
        for g in named.values()
        if g.status == Guide.Status.ACTIVE and g.customer_contact and g.pk not in from_ids
    }
    plan.takers = _loads([g for g in named.values() if g.pk in usable], max_per_guide)
    held = {i.external_id for i in customers}
    known = set(
        Customer.objects.filter(external_userid__in=list(mapping)).values_list(
            "external_userid", flat=True
        )
    )
    for external_userid, (userid, line) in mapping.items():
        guide = named.get(userid)
        problem = ""
        if external_userid not in known:
            problem = "no customer with this external_userid"
        elif external_userid not in held:
            problem = "not a customer of the guides handed over"
        elif guide is None:
            problem = "no guide with this userid"
        elif guide.pk not in usable:
            problem = "this guide cannot take over (departed, handed over or out of range)"
        if problem:
            plan.csv_problems.append(CsvProblem(line, f"{external_userid},{userid}", problem))
    plan.csv_problems.sort(key=lambda p: p.line)
    for item in customers:
        guide = named.get(mapping.get(item.external_id, ("", 0))[0])
        load = plan.takers.get(guide.pk) if guide else None
        if load is None:
            item.status, item.error = TransferItem.Status.UNALLOCATED, NOT_IN_CSV
            continue
        if load.room is not None and load.customers >= load.room:
            item.status, item.error = TransferItem.Status.UNALLOCATED, NO_TAKER
            continue
        item.to_guide_id = guide.pk if guide else None
        load.customers += 1
    # Chats follow their owner's customers: to the taker who receives most of them.
    for chat in chats:
        received: dict[int, int] = defaultdict(int)
        for item in customers:
            if item.from_guide_id == chat.from_guide_id and item.to_guide_id:
                received[item.to_guide_id] += 1
        if received:
            chat.to_guide_id = max(received, key=lambda pk: (received[pk], -pk))
            plan.takers[chat.to_guide_id].chats += 1
        else:
            chat.status, chat.error = TransferItem.Status.UNALLOCATED, NOT_IN_CSV
