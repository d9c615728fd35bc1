"""Reads of lifecycle stages: counts per day, a customer's stage, a stage's customers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import QuerySet

from lifecycle.models import DISPLAY_ORDER, CustomerStage, Stage, StageCount


@dataclass
class StageSeries:
    """Customers per stage per day of a range (None: no count that day), and the latest
    counts of the range (the funnel)."""

    days: list[date] = field(default_factory=list)
    counts: dict[str, list[int | None]] = field(default_factory=dict)
    latest_day: date | None = None
    latest: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.latest_day is None


def stage_series(*, start: date, end: date) -> StageSeries:
    """One query: the daily counts of `start`..`end` (both included)."""
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    series = StageSeries(days=days, counts={s.value: [None] * len(days) for s in DISPLAY_ORDER})
    rows = list(
        StageCount.objects.filter(day__gte=start, day__lte=end).values_list("day", "stage", "count")
    )
    for day, stage, count in rows:
        if stage in series.counts:
            series.counts[stage][index[day]] = count
    if rows:
        series.latest_day = max(day for day, _stage, _count in rows)
        series.latest = {s.value: 0 for s in DISPLAY_ORDER}
        series.latest.update(
            {stage: count for day, stage, count in rows if day == series.latest_day}
        )
    return series


def customer_stage(*, customer_id: int) -> CustomerStage | None:
    return CustomerStage.objects.filter(customer_id=customer_id).first()


def stage_customers(*, stage: str) -> QuerySet[CustomerStage]:
    """The customers in `stage`, who entered it most recently first (keyset-ready:
    ordered by -since, -id)."""
    if stage not in Stage.values:
        return CustomerStage.objects.none()
    return (
        CustomerStage.objects.filter(stage=stage)
        .select_related("customer")
        .order_by("-since", "-id")
    )


def latest_stage_counts() -> tuple[date | None, dict[str, int]]:
    """The last day counted and its customers per stage (zeros for a stage not counted)."""
    last = StageCount.objects.order_by("-day").values_list("day", flat=True).first()
    counts = {s.value: 0 for s in DISPLAY_ORDER}
    if last is not None:
        counts.update(StageCount.objects.filter(day=last).values_list("stage", "count"))
    return last, counts
