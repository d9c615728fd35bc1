"""Relations on chosen days, and the dashboard's numbers counted by brute force in Python
(independently of dashboard.aggregates and dashboard.direct)."""

import itertools
import random
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from channels_qr.models import Channel
from contacts.models import Customer, Guide, Relation, Store
from dashboard.models import COUNTS
from dashboard.selectors import DashboardFilters, RelationNumbers

_customers = itertools.count(1)
ENDED_COLUMN = {
    "deleted_by_customer": "deleted_by_customer",
    "deleted_by_guide": "deleted_by_guide",
    "vanished": "vanished",
    "transferred": "transferred_out",
}


def at(day: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    """A local (Beijing) time on `day`."""
    return timezone.make_aware(datetime.combine(day, time(hour, minute, second)))


def relate(
    guide: Guide,
    *,
    added: datetime,
    status: str = Relation.Status.ACTIVE,
    ended: datetime | None = None,
    channel: Channel | None = None,
    customer: Customer | None = None,
    status_changed_only: bool = False,
) -> Relation:
    """A relation added at `added`, ended at `ended` with `status` (the time in
    status_changed_at only, as some old rows have, with `status_changed_only`)."""
    return Relation.objects.create(
        guide=guide,
        customer=customer or Customer.objects.create(external_userid=f"wm{next(_customers)}"),
        added_at=added,
        status=status,
        status_changed_at=ended or added,
        deleted_at=None if status_changed_only else ended,
        channel=channel,
        state=f"st{channel.pk}" if channel else "",
    )


def hand_over(relation: Relation, taker: Guide, when: datetime) -> Relation:
    """What handover.transfer.relations_move leaves: the old relation transferred, a copy
    for the taker added at the takeover time."""
    Relation.objects.filter(pk=relation.pk).update(
        status=Relation.Status.TRANSFERRED, status_changed_at=when, deleted_at=when
    )
    return Relation.objects.create(
        guide=taker,
        customer_id=relation.customer_id,
        added_at=when,
        status=Relation.Status.ACTIVE,
        status_changed_at=when,
        channel_id=relation.channel_id,
    )


def generate(seed: int, *, relations: int, days: int, today: date) -> dict[str, Any]:
    """Stores, guides (one without a store), channels and relations over `days` days up to
    `today`, with deletions of every kind, handovers and adds on the days' edges."""
    rng = random.Random(seed)
    stores = [Store.objects.create(department_id=9000 + n, name=f"门店{n}") for n in range(3)]
    guides = [
        Guide.objects.create(userid=f"g{seed}-{n}", name=f"导购{n}", store=stores[n % 3])
        for n in range(9)
    ]
    guides.append(Guide.objects.create(userid=f"g{seed}-nostore", name="无门店", store=None))
    channels = [Channel.objects.create(name=f"渠道{n}") for n in range(4)]
    first = today - timedelta(days=days - 1)
    made = []
    for n in range(relations):
        day = first + timedelta(days=rng.randrange(days))
        edge = rng.random()
        if edge < 0.05:
            added = at(day, 0, 0, 0)  # the first instant of the day
        elif edge < 0.1:
            added = at(day, 23, 59, 59)
        else:
            added = at(day, rng.randrange(24), rng.randrange(60))
        added = min(added, timezone.now() - timedelta(seconds=1))
        status, ended = Relation.Status.ACTIVE, None
        fate = rng.random()
        if fate < 0.35:
            status = rng.choice(
                [
                    Relation.Status.DELETED_BY_CUSTOMER,
                    Relation.Status.DELETED_BY_CUSTOMER,
                    Relation.Status.DELETED_BY_GUIDE,
                    Relation.Status.VANISHED,
                ]
            )
            ended = added + (timezone.now() - added) * rng.random()
        made.append(
            relate(
                rng.choice(guides),
                added=added,
                status=status,
                ended=ended,
                channel=rng.choice([*channels, None]),
                status_changed_only=ended is not None and n % 7 == 0,
            )
        )
    actives = [r for r in made if r.status == Relation.Status.ACTIVE]
    for relation in rng.sample(actives, k=min(len(actives), relations // 20)):
        when = relation.added_at + (timezone.now() - relation.added_at) * rng.random()
        taker = rng.choice([g for g in guides if g.pk != relation.guide_id])
        hand_over(relation, taker, when)
    return {"stores": stores, "guides": guides, "channels": channels, "first": first}


def brute_force(filters: DashboardFilters) -> dict[str, Any]:
    """Counts per day, channel and guide, from every relation loaded into Python."""
    relations = list(Relation.objects.select_related("guide"))
    taken_over = {
        (r.customer_id, r.deleted_at) for r in relations if r.status == Relation.Status.TRANSFERRED
    }
    per: dict[str, dict[Any, Counter[str]]] = {"day": {}, "channel": {}, "guide": {}}

    def count(relation: Relation, when: datetime, column: str) -> None:
        day = timezone.localdate(when)
        if not filters.start <= day <= filters.end:
            return
        for key, value in (
            ("day", day),
            ("channel", relation.channel_id),
            ("guide", relation.guide_id),
        ):
            per[key].setdefault(value, Counter())[column] += 1

    for relation in relations:
        if filters.store_id is not None and relation.guide.store_id != filters.store_id:
            continue
        took_over = (relation.customer_id, relation.added_at) in taken_over
        count(relation, relation.added_at, "transferred_in" if took_over else "adds")
        gone = relation.deleted_at or relation.status_changed_at
        if relation.status != Relation.Status.ACTIVE and gone is not None:
            count(relation, gone, ENDED_COLUMN[relation.status])
    return per


def lost(counts: Counter[str]) -> int:
    return counts["deleted_by_customer"] + counts["deleted_by_guide"] + counts["vanished"]


def as_brute_force(numbers: RelationNumbers) -> dict[str, Any]:
    """The dashboard's numbers in brute_force's terms (days with something only; the
    rankings as (id, adds, lost))."""
    columns = COUNTS
    days = {
        row.day: Counter({c: getattr(row, c) for c in columns if getattr(row, c)})
        for row in numbers.days
        if any(getattr(row, c) for c in columns)
    }
    return {
        "days": days,
        "channels": [(r.channel_id, r.adds, r.lost) for r in numbers.channels],
        "guides_by_adds": [(r.guide_id, r.adds, r.lost) for r in numbers.guides_by_adds],
        "guides_by_lost": [(r.guide_id, r.adds, r.lost) for r in numbers.guides_by_lost],
    }


def expected(filters: DashboardFilters, top: int = 10) -> dict[str, Any]:
    """brute_force's counts shaped like as_brute_force."""
    per = brute_force(filters)

    def ranked(rows: dict[Any, Counter[str]], score: Any) -> list[tuple[Any, int, int]]:
        kept = [(k, c["adds"], lost(c)) for k, c in rows.items() if k is not None and score(c)]
        kept.sort(key=lambda r: (-score(rows[r[0]]), r[0]))
        return kept[:top]

    return {
        "days": {day: +counts for day, counts in per["day"].items() if +counts},
        "channels": ranked(per["channel"], lambda c: c["adds"]),
        "guides_by_adds": ranked(per["guide"], lambda c: c["adds"]),
        "guides_by_lost": ranked(per["guide"], lost),
    }
