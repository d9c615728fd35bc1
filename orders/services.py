"""Writes of orders and custom events: upserts (API and CSV import), matching to customers,
the customers' timeline, and the re-match of rows that arrived before their customer.

An order is unique per (source, order_id); a second push of it updates the fields it gives
and keeps the others (a refund may send only `status`). A matched order or event has one
timeline entry (contacts.CustomerEvent, dedupe key `order:<id>` / `custom:<id>`), kept in
step with the row: a re-push updates it, never adds a second one; a refund adds one more.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import CustomerEvent, Store
from orders.matching import NO_MATCH, Keys, Match, customer_keys, matches_resolve
from orders.models import CustomEvent, MatchedBy, MatchProblem, MatchState, Order
from orders.updates import rows_update

MAX_BATCH = 500
ITEMS_SHOWN = 5
RETRIES = 3
# Timeline entries that may bring a customer or a remark phone an unmatched row waits for.
REMATCH_KINDS = frozenset(
    {CustomerEvent.Kind.ADDED, CustomerEvent.Kind.EDITED, CustomerEvent.Kind.PENDING}
)
# A timeline entry younger than this may still have lower-numbered neighbours in flight
# (ids are taken at insert, rows are seen at commit): the watermark waits for them.
SETTLE = timedelta(seconds=60)
REMATCH_BATCH = 5000
CUSTOMER_CHUNK = 1000


class OrderInputError(ValueError):
    """Input the service refuses as a whole; nothing was saved."""


# --- inputs and outcomes -------------------------------------------------------------------


@dataclass
class OrderInput:
    """One pushed order. `values` holds only the fields given (among amount, items,
    paid_at, store, status, refunded_at); `keys` None keeps the stored customer."""

    order_id: str
    source: str = ""
    keys: Keys | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class EventInput:
    type: str
    occurred_at: datetime
    keys: Keys
    properties: dict[str, Any] = field(default_factory=dict)
    event_id: str = ""


@dataclass
class Outcome:
    """`created`, `updated` or `invalid` (with `errors` by field; nothing saved for it)."""

    result: str
    row: Any = None
    errors: dict[str, list[str]] = field(default_factory=dict)


# --- timeline ------------------------------------------------------------------------------


def items_summary(items: Any) -> str:
    """`口红 ×1, 面霜 ×2` (the first few items, then `…`)."""
    if not isinstance(items, list):
        return ""
    parts = []
    for item in items[:ITEMS_SHOWN]:
        if isinstance(item, dict):
            name = str(item.get("name") or item.get("sku") or "?")
            parts.append(f"{name} ×{item.get('quantity', 1)}")
    if len(items) > ITEMS_SHOWN:
        parts.append("…")
    return ", ".join(parts)


def order_timeline_data(order: Order, store_name: str) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "source": order.source,
        "amount": f"{Decimal(order.amount):.2f}",
        "items": items_summary(order.items),
        "store": store_name,
        "status": order.status,
    }


def _order_key(order: Order) -> str:
    return f"order:{order.pk}"


def _refund_key(order: Order) -> str:
    return f"order:{order.pk}:refunded"


def _timeline_upsert(entries: list[CustomerEvent]) -> None:
    if entries:
        CustomerEvent.objects.bulk_create(
            entries,
            update_conflicts=True,
            unique_fields=["dedupe_key"],
            update_fields=["customer", "occurred_at", "data"],
        )


def orders_timeline(orders: list[Order], *, updated: Iterable[Order] = ()) -> None:
    """Write the timeline entries of these orders (an order and, if refunded, its refund);
    drop the entries `updated` orders no longer have (unmatched, refund reversed)."""
    store_ids = {o.store_id for o in orders if o.customer_id and o.store_id}
    stores = dict(Store.objects.filter(pk__in=store_ids).values_list("pk", "name"))
    entries = []
    for order in orders:
        if not order.customer_id:
            continue
        data = order_timeline_data(order, stores.get(order.store_id, "") if order.store_id else "")
        entries.append(
            CustomerEvent(
                customer_id=order.customer_id,
                kind=CustomerEvent.Kind.ORDER,
                occurred_at=order.paid_at,
                data=data,
                dedupe_key=_order_key(order),
            )
        )
        if order.status == Order.Status.REFUNDED:
            entries.append(
                CustomerEvent(
                    customer_id=order.customer_id,
                    kind=CustomerEvent.Kind.ORDER_REFUNDED,
                    occurred_at=order.refunded_at or order.updated_at,
                    data=data,
                    dedupe_key=_refund_key(order),
                )
            )
    _timeline_upsert(entries)
    stale = []
    for order in updated:
        if not order.customer_id:
            stale.append(_order_key(order))
        if not order.customer_id or order.status != Order.Status.REFUNDED:
            stale.append(_refund_key(order))
    if stale:
        CustomerEvent.objects.filter(dedupe_key__in=stale).delete()


def events_timeline(events: list[CustomEvent]) -> None:
    _timeline_upsert(
        [
            CustomerEvent(
                customer_id=event.customer_id,
                kind=CustomerEvent.Kind.CUSTOM,
                occurred_at=event.occurred_at,
                data={"type": event.type, "properties": event.properties},
                dedupe_key=f"custom:{event.pk}",
            )
            for event in events
            if event.customer_id
        ]
    )


# --- matching ------------------------------------------------------------------------------


def _keys_of(row: Order | CustomEvent) -> Keys:
    return Keys(row.external_userid, row.unionid, row.phone)


def _keys_apply(row: Order | CustomEvent, keys: Keys, match: Match, now: datetime) -> None:
    """Store the keys and the match. A row matched before keeps its customer when the same
    keys no longer name one (say, the phone became ambiguous)."""
    same_keys = _keys_of(row) == keys
    row.external_userid, row.unionid, row.phone = keys.external_userid, keys.unionid, keys.phone
    if match.matched:
        if row.customer_id != match.customer_id or row.matched_by != match.matched_by:
            row.matched_at = now
        row.customer_id = match.customer_id
        row.matched_by, row.match_problem = match.matched_by, MatchProblem.NONE
    elif not (row.customer_id and same_keys):
        row.customer_id, row.matched_at = None, None
        row.matched_by, row.match_problem = MatchedBy.NONE, match.problem


KEY_FIELDS = ["external_userid", "unionid", "phone", "customer", "matched_by", "match_problem"]


# --- orders --------------------------------------------------------------------------------


def _retrying(write: Callable[[Any], list[Outcome]], inputs: Any) -> list[Outcome]:
    """`write(inputs)` in a savepoint; when a concurrent push inserted the same new row
    first (IntegrityError), again: the row is then found and updated."""
    for attempt in range(RETRIES):
        try:
            with transaction.atomic():
                return write(inputs)
        except IntegrityError:
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


ORDER_VALUE_FIELDS = ("amount", "items", "paid_at", "store", "status", "refunded_at")
ORDER_UPDATE_FIELDS = [*ORDER_VALUE_FIELDS, *KEY_FIELDS, "matched_at", "updated_at"]


def orders_upsert(*, inputs: list[OrderInput]) -> list[Outcome]:
    """Create or update orders by (source, order_id), match them, write their timeline.

    One outcome per input, in order; an invalid one (a new order without amount, paid_at or
    a customer key) saves nothing for that order, the others still go ahead. Raises
    OrderInputError when an order is given twice. Locks the existing orders (pk order); a
    concurrent insert of the same new order is retried as an update.
    """
    pairs = [(i.source, i.order_id) for i in inputs]
    if len(set(pairs)) != len(pairs):
        raise OrderInputError(_("The same order is given twice."))
    return _retrying(_orders_upsert, inputs) if inputs else []


def _new_order_errors(data: OrderInput) -> dict[str, list[str]]:
    errors = {
        name: [_("Required for a new order.")]
        for name in ("amount", "paid_at")
        if data.values.get(name) is None
    }
    if not data.keys:
        errors["customer"] = [_("Give external_userid, unionid or phone for a new order.")]
    return errors


def _orders_upsert(inputs: list[OrderInput]) -> list[Outcome]:
    now = timezone.now()
    wanted = {(i.source, i.order_id) for i in inputs}
    existing = {
        (o.source, o.order_id): o
        for o in Order.objects.select_for_update()
        .filter(source__in={s for s, _ in wanted}, order_id__in={o for _, o in wanted})
        .order_by("pk")
        if (o.source, o.order_id) in wanted
    }
    matches = matches_resolve(i.keys for i in inputs if i.keys)
    outcomes: list[Outcome] = []
    created: list[Order] = []
    updated: list[Order] = []
    for data in inputs:
        order = existing.get((data.source, data.order_id))
        if order is None:
            errors = _new_order_errors(data)
            if errors:
                outcomes.append(Outcome("invalid", errors=errors))
                continue
            order = Order(source=data.source, order_id=data.order_id, created_at=now)
            created.append(order)
            outcomes.append(Outcome("created", order))
        else:
            updated.append(order)
            outcomes.append(Outcome("updated", order))
        for name, value in data.values.items():
            setattr(order, name, value)
        if order.status == Order.Status.REFUNDED and order.refunded_at is None:
            order.refunded_at = now
        elif order.status == Order.Status.PAID:
            order.refunded_at = None
        if data.keys is not None:
            _keys_apply(order, data.keys, matches.get(data.keys, NO_MATCH), now)
        order.updated_at = now
    Order.objects.bulk_create(created)
    if updated:
        rows_update(Order, updated, ORDER_UPDATE_FIELDS)
    orders_timeline(created + updated, updated=updated)
    return outcomes


# --- custom events -------------------------------------------------------------------------

EVENT_UPDATE_FIELDS = ["type", "properties", "occurred_at", *KEY_FIELDS, "matched_at"]


def events_record(*, inputs: list[EventInput]) -> list[Outcome]:
    """Store custom events, match them, write their timeline. An event with an `event_id`
    seen before updates that event (`updated`); one without is always new.

    Raises OrderInputError when an event_id is given twice.
    """
    ids = [i.event_id for i in inputs if i.event_id]
    if len(set(ids)) != len(ids):
        raise OrderInputError(_("The same event_id is given twice."))
    return _retrying(_events_record, inputs) if inputs else []


def _events_record(inputs: list[EventInput]) -> list[Outcome]:
    now = timezone.now()
    ids = [i.event_id for i in inputs if i.event_id]
    existing = {
        e.event_id: e
        for e in CustomEvent.objects.select_for_update().filter(event_id__in=ids).order_by("pk")
    }
    matches = matches_resolve(i.keys for i in inputs)
    outcomes: list[Outcome] = []
    created: list[CustomEvent] = []
    updated: list[CustomEvent] = []
    for data in inputs:
        if not data.keys:
            outcomes.append(
                Outcome(
                    "invalid", errors={"customer": [_("Give external_userid, unionid or phone.")]}
                )
            )
            continue
        event = existing.get(data.event_id) if data.event_id else None
        if event is None:
            event = CustomEvent(event_id=data.event_id, created_at=now)
            created.append(event)
            outcomes.append(Outcome("created", event))
        else:
            updated.append(event)
            outcomes.append(Outcome("updated", event))
        event.type, event.properties, event.occurred_at = (
            data.type,
            data.properties,
            data.occurred_at,
        )
        _keys_apply(event, data.keys, matches.get(data.keys, NO_MATCH), now)
    CustomEvent.objects.bulk_create(created)
    if updated:
        rows_update(CustomEvent, updated, EVENT_UPDATE_FIELDS)
        unmatched = [f"custom:{e.pk}" for e in updated if not e.customer_id]
        if unmatched:
            CustomerEvent.objects.filter(dedupe_key__in=unmatched).delete()
    events_timeline(created + updated)
    return outcomes


# --- re-match ------------------------------------------------------------------------------


def _rows_rematch(model: type[Order] | type[CustomEvent], rows: list[Any]) -> int:
    """Match unmatched rows again (locked by the caller); returns how many matched."""
    now = timezone.now()
    matches = matches_resolve(_keys_of(row) for row in rows)
    changed, newly = [], []
    for row in rows:
        match = matches.get(_keys_of(row), NO_MATCH)
        if match.matched:
            _keys_apply(row, _keys_of(row), match, now)
            changed.append(row)
            newly.append(row)
        elif row.match_problem != match.problem:
            row.match_problem = match.problem
            changed.append(row)
    if changed:
        rows_update(model, changed, [*KEY_FIELDS, "matched_at"])
    if model is Order:
        orders_timeline(newly)
    else:
        events_timeline(newly)
    return len(newly)


def unmatched_match(*, customer_ids: Iterable[int]) -> int:
    """Match the unmatched orders and events carrying a key of these customers (their
    external_userid, unionid or a remark phone); returns how many matched.

    Rows a concurrent push holds are skipped: that push matches them itself.
    """
    ids = sorted(set(customer_ids))
    matched = 0
    for offset in range(0, len(ids), CUSTOMER_CHUNK):
        external_userids, unionids, phones = customer_keys(ids[offset : offset + CUSTOMER_CHUNK])
        condition = Q(external_userid__in=external_userids)
        if unionids:
            condition |= Q(unionid__in=unionids)
        if phones:
            condition |= Q(phone__in=phones)
        for model in (Order, CustomEvent):
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update(skip_locked=True)
                    .filter(condition, customer__isnull=True)
                    .order_by("pk")
                )
                if rows:
                    matched += _rows_rematch(model, rows)
    return matched


def rematch_recent(
    *, batch: int = REMATCH_BATCH, max_batches: int = 20, settle: timedelta = SETTLE
) -> int:
    """Match unmatched rows to the customers added or given a remark phone since the last
    run, read from the timeline after the saved watermark. Returns how many matched."""
    MatchState.objects.get_or_create(pk=1)
    matched = 0
    for _batch in range(max_batches):
        with transaction.atomic():
            state = MatchState.objects.select_for_update(nowait=False).get(pk=1)
            settled_before = timezone.now() - settle
            rows = list(
                CustomerEvent.objects.filter(pk__gt=state.last_event_id)
                .order_by("pk")
                .values_list("pk", "kind", "customer_id", "created_at")[:batch]
            )
            customer_ids: set[int] = set()
            last = state.last_event_id
            for pk, kind, customer_id, created_at in rows:
                if created_at > settled_before:
                    break
                last = pk
                if kind in REMATCH_KINDS:
                    customer_ids.add(customer_id)
            matched += unmatched_match(customer_ids=customer_ids)
            if last == state.last_event_id:
                break
            state.last_event_id = last
            state.save(update_fields=["last_event_id"])
    return matched


def rematch_all(*, batch: int = 1000) -> int:
    """Try every unmatched order and event again (the nightly safety net for keys that
    arrived without a timeline entry: a unionid bound later, phones from a full sync)."""
    matched = 0
    for model in (Order, CustomEvent):
        last = 0
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update(skip_locked=True)
                    .filter(customer__isnull=True, pk__gt=last)
                    .order_by("pk")[:batch]
                )
                if not rows:
                    break
                last = rows[-1].pk
                matched += _rows_rematch(model, rows)
    MatchState.objects.update_or_create(pk=1, defaults={"swept_at": timezone.now()})
    return matched
