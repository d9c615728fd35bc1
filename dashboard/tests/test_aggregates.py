"""The daily tables against the relations: hand-made days with every kind of change, a
generated data set compared with a brute-force count in Python and with dashboard.direct
(store filter and range edges included), and the incremental refresh."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from channels_qr.models import Channel
from contacts.models import Guide, Relation, Store
from dashboard.aggregates import dashboard_backfill, dashboard_refresh
from dashboard.direct import direct_numbers, numbers_differences
from dashboard.models import COUNTS, ChannelMonth, GuideDay, GuideMonth, RefreshState, StoreDay
from dashboard.selectors import DashboardFilters, range_parts, relation_numbers
from dashboard.tests.helpers import (
    as_brute_force,
    at,
    expected,
    generate,
    hand_over,
    relate,
)


def month_rows() -> list[tuple]:
    guides = GuideMonth.objects.values_list("day", "guide_id", "store_id", *COUNTS)
    channels = ChannelMonth.objects.values_list("day", "channel_id", "store_id", *COUNTS)
    return sorted([*guides, *channels], key=repr)


@pytest.fixture
def alpha(db, tenant_a):
    with schema_context("alpha"):
        yield


def test_a_day_counts_adds_deletions_and_handovers_apart(alpha):
    # given two stores' guides, a channel, and on one day: three adds (one through the
    # channel), a deletion by the customer, one by the guide, one found by sync, and a
    # handover of one of Amy's customers to Ben
    today = timezone.localdate()
    day = today - timedelta(days=3)
    north, south = (
        Store.objects.create(department_id=1, name="北"),
        Store.objects.create(department_id=2, name="南"),
    )
    amy = Guide.objects.create(userid="amy", name="Amy", store=north)
    ben = Guide.objects.create(userid="ben", name="Ben", store=south)
    poster = Channel.objects.create(name="海报")
    relate(amy, added=at(day, 9), channel=poster)
    relate(amy, added=at(day, 10))
    relate(ben, added=at(day, 11))
    relate(amy, added=at(day - timedelta(days=20)), status="deleted_by_customer", ended=at(day, 13))
    relate(ben, added=at(day - timedelta(days=20)), status="deleted_by_guide", ended=at(day, 14))
    relate(ben, added=at(day - timedelta(days=20)), status="vanished", ended=at(day, 15))
    handed = relate(amy, added=at(day - timedelta(days=30)), channel=poster)
    hand_over(handed, ben, at(day, 16))

    # when the history is built
    dashboard_backfill()

    # then the day has 3 adds and 3 losses; the handover is neither, on both sides
    numbers = relation_numbers(DashboardFilters(start=day, end=day))
    [row] = numbers.days
    assert (row.adds, row.deleted_by_customer, row.deleted_by_guide, row.vanished) == (3, 1, 1, 1)
    assert (row.transferred_out, row.transferred_in) == (1, 1)
    assert (row.lost, row.net) == (3, 0)
    assert [(c.name, c.adds, c.lost) for c in numbers.channels] == [("海报", 1, 0)]
    assert [(g.userid, g.adds, g.lost) for g in numbers.guides_by_adds] == [
        ("amy", 2, 1),
        ("ben", 1, 2),
    ]
    assert [(g.userid, g.lost) for g in numbers.guides_by_lost] == [("ben", 2), ("amy", 1)]
    # the store filter keeps one store's guides
    north_only = relation_numbers(DashboardFilters(start=day, end=day, store_id=north.pk))
    assert (north_only.days[0].adds, north_only.days[0].lost) == (2, 1)
    assert [g.userid for g in north_only.guides_by_adds] == ["amy"]
    # the handover's 30-day-old add stays an add of its own day
    earlier = relation_numbers(DashboardFilters(start=day - timedelta(days=30), end=day))
    assert earlier.days[0].adds == 1


def test_days_end_at_midnight_beijing_time(alpha):
    today = timezone.localdate()
    day = today - timedelta(days=5)
    guide = Guide.objects.create(userid="amy", name="Amy")
    relate(guide, added=at(day, 0, 0, 0))  # the day's first instant
    relate(guide, added=at(day, 23, 59, 59))  # its last second
    relate(guide, added=at(day + timedelta(days=1), 0, 0, 0))  # the next day's first
    relate(guide, added=at(day - timedelta(days=1), 23, 59, 59))  # the day before's last

    dashboard_backfill()

    numbers = relation_numbers(
        DashboardFilters(start=day - timedelta(days=1), end=day + timedelta(days=1))
    )
    assert [row.adds for row in numbers.days] == [1, 2, 1]
    # a range of that one day leaves its neighbours out
    assert relation_numbers(DashboardFilters(start=day, end=day)).total.adds == 2


@pytest.mark.parametrize("seed", [1, 2])
def test_aggregates_equal_a_direct_count_of_the_relations(alpha, seed):
    # given a generated history of 50 days
    today = timezone.localdate()
    made = generate(seed, relations=400, days=50, today=today)

    # when it is built
    dashboard_backfill()

    # then for every store and several ranges (the whole history, its first day, a middle
    # stretch, the last day) the aggregates equal both direct counts
    first = made["first"]
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    ranges = [
        (first - timedelta(days=3), today),
        (first, first),
        (first + timedelta(days=10), first + timedelta(days=24)),
        (today, today),
        # whole months from the month tables, edges from the day tables
        (last_month, this_month - timedelta(days=1)),
        (last_month + timedelta(days=5), today),
        (last_month - timedelta(days=9), this_month + timedelta(days=min(2, today.day - 1))),
        (last_month - timedelta(days=1), last_month + timedelta(days=3)),
    ]
    stores = [None, *(s.pk for s in made["stores"])]
    for start, end in ranges:
        for store_id in stores:
            filters = DashboardFilters(start=start, end=end, store_id=store_id)
            numbers = relation_numbers(filters, top=5)
            assert as_brute_force(numbers) == expected(filters, top=5), (start, end, store_id)
            assert numbers_differences(numbers, direct_numbers(filters, top=5)) == []
    whole = relation_numbers(DashboardFilters(start=first, end=today))
    assert whole.total.adds > 300
    assert whole.total.transferred_in == whole.total.transferred_out == 20
    assert whole.total.deleted_by_customer > whole.total.deleted_by_guide > 0


def test_the_periodic_refresh_follows_new_and_ended_relations(alpha):
    today = timezone.localdate()
    guide = Guide.objects.create(userid="amy", name="Amy")
    old = relate(guide, added=at(today - timedelta(days=40)))
    assert dashboard_refresh().days == 41  # the first refresh builds the history
    assert RefreshState.objects.get().refreshed_at is not None

    # when today brings an add and a deletion, and a sync brings a relation added 90 days
    # ago that the platform never saw
    relate(guide, added=timezone.now() - timedelta(minutes=1))
    Relation.objects.filter(pk=old.pk).update(
        status=Relation.Status.DELETED_BY_CUSTOMER,
        deleted_at=timezone.now(),
        status_changed_at=timezone.now(),
    )
    relate(guide, added=at(today - timedelta(days=90)))
    result = dashboard_refresh()

    # then today, yesterday and the 90-day-old day are rebuilt, nothing else
    assert result.runs == [
        (today - timedelta(days=90), today - timedelta(days=90)),
        (today - timedelta(days=1), today),
    ]
    numbers = relation_numbers(DashboardFilters(start=today - timedelta(days=90), end=today))
    assert numbers.total.adds == 3
    assert numbers.total.deleted_by_customer == 1
    assert numbers.days[-1].adds == 1
    assert numbers.days[-1].deleted_by_customer == 1
    # the rankings (whole months from the month tables) follow too
    assert [(g.userid, g.adds, g.lost) for g in numbers.guides_by_adds] == [("amy", 3, 1)]
    # the next refresh looks at those new relations once more (one whose transaction
    # committed late is not missed), then only the two recent days are rebuilt; the
    # numbers stay the same
    assert len(dashboard_refresh().runs) == 2
    assert dashboard_refresh().runs == [(today - timedelta(days=1), today)]
    again = relation_numbers(DashboardFilters(start=today - timedelta(days=90), end=today))
    assert again == numbers
    # the month tables, moved by each refresh's delta, equal a rebuild from the days
    moved = month_rows()
    dashboard_backfill()
    assert month_rows() == moved


def test_a_refresh_rebuilds_rather_than_adds(alpha):
    today = timezone.localdate()
    guide = Guide.objects.create(userid="amy", name="Amy")
    for hour in (9, 10, 11):
        relate(guide, added=at(today - timedelta(days=2), hour))
    dashboard_backfill()
    dashboard_backfill()
    dashboard_refresh(days=7)

    assert StoreDay.objects.get().adds == 3
    assert GuideDay.objects.get().adds == 3


def test_a_range_is_split_into_whole_months_and_edge_days():
    today = date(2026, 11, 24)

    def parts(start: date, end: date):
        return range_parts(DashboardFilters(start=start, end=end), today)

    # Oct 26 - Nov 24 (today): 6 days of October, November so far as a whole month
    assert parts(date(2026, 10, 26), today) == (
        [date(2026, 11, 1)],
        [date(2026, 10, 26), date(2026, 10, 31), None, None],
    )
    # a past range: whole September, days around it
    assert parts(date(2026, 8, 20), date(2026, 10, 3)) == (
        [date(2026, 9, 1)],
        [date(2026, 8, 20), date(2026, 8, 31), date(2026, 10, 1), date(2026, 10, 3)],
    )
    # within one month, not to today: days only
    assert parts(date(2026, 10, 1), date(2026, 10, 30)) == (
        [],
        [date(2026, 10, 1), date(2026, 10, 30), None, None],
    )
    # whole months only, across a year
    assert parts(date(2025, 12, 1), date(2026, 1, 31)) == (
        [date(2025, 12, 1), date(2026, 1, 1)],
        [None, None, None, None],
    )
