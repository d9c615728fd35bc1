"""Channel stats per day and per guide: what each number counts, on Beijing days."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from channels_qr.models import Channel, LiveCode, WelcomeLog
from channels_qr.selectors import StatsRangeError, channel_stats, stats_range, stats_total
from contacts.models import Relation
from contacts.tests.factories import GuideFactory, RelationFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 3, 20)
_events = iter(range(1, 10_000))


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def welcome(channel: Channel, userid: str, outcome: str, when: datetime, **fields) -> None:
    WelcomeLog.objects.create(
        event_id=next(_events),
        channel=channel,
        userid=userid,
        external_userid=f"wm{next(_events):08d}",
        outcome=outcome,
        event_at=when,
        done_at=when + timedelta(seconds=1),
        **fields,
    )


@pytest.fixture
def poster(db):
    with schema_context("alpha"):
        channel = Channel.objects.create(name="南京路海报")
        LiveCode.objects.create(channel=channel, state="chposter", config_id="cfg1")
        yield channel


def test_adds_deletions_net_and_still_friends_per_day(poster):
    amy, bob = GuideFactory(userid="amy", name="Amy"), GuideFactory(userid="bob", name="Bob")
    other = Channel.objects.create(name="包裹卡")
    # ten days ago: three adds; one customer deleted the guide eight days ago, one relation
    # the guide ended (not a customer's deletion)
    RelationFactory(guide=amy, channel=poster, added_at=at(days_ago(10), 9))
    RelationFactory(
        guide=amy,
        channel=poster,
        added_at=at(days_ago(10), 10),
        status=Relation.Status.DELETED_BY_CUSTOMER,
        deleted_at=at(days_ago(8), 20),
    )
    RelationFactory(
        guide=bob,
        channel=poster,
        added_at=at(days_ago(10), 11),
        status=Relation.Status.DELETED_BY_GUIDE,
        deleted_at=at(days_ago(9)),
    )
    # two days ago, at 00:30 Beijing time (16:30 UTC the day before): counted on the
    # Beijing day
    RelationFactory(guide=bob, channel=poster, added_at=at(days_ago(2), 0, 30))
    # a deletion known only by its status change time
    RelationFactory(
        guide=bob,
        channel=poster,
        added_at=at(days_ago(2), 15),
        status=Relation.Status.DELETED_BY_CUSTOMER,
        status_changed_at=at(days_ago(1), 8),
    )
    # other channels and no channel do not count
    RelationFactory(guide=amy, channel=other, added_at=at(days_ago(2)))
    RelationFactory(guide=amy, added_at=at(days_ago(2)))

    rows = channel_stats(channel_id=poster.pk, start=days_ago(11), end=TODAY, by="day", today=TODAY)

    by_day = {row.day: row for row in rows}
    assert [row.day for row in rows] == [days_ago(n) for n in range(11, -1, -1)]  # zeros too
    ten = by_day[days_ago(10)]
    assert (ten.adds, ten.deletions, ten.net) == (3, 0, 3)
    # of the three adds ten days ago, one is still a friend (the others ended)
    assert ten.retained_7d == 1
    assert (by_day[days_ago(8)].deletions, by_day[days_ago(8)].net) == (1, -1)
    assert by_day[days_ago(9)].deletions == 0  # the guide's own deletion is not counted
    two = by_day[days_ago(2)]
    assert (two.adds, two.deletions) == (2, 0)
    assert two.retained_7d is None  # not 7 days old yet
    assert by_day[days_ago(3)].adds == 0
    assert by_day[days_ago(1)].deletions == 1
    # the day before the adds is old enough, but nothing was added: zero, not unknown
    assert by_day[days_ago(11)].retained_7d == 0
    total = stats_total(rows)
    assert (total.adds, total.deletions, total.net) == (5, 2, 3)
    assert (total.retained, total.retention_base) == (1, 3)


def test_the_welcome_success_rate_leaves_out_adds_with_nothing_to_send(poster):
    GuideFactory(userid="amy")
    day = days_ago(3)
    welcome(poster, "amy", WelcomeLog.Outcome.SENT, at(day, 10))
    welcome(poster, "amy", WelcomeLog.Outcome.SENT, at(day, 11))
    welcome(poster, "amy", WelcomeLog.Outcome.FAILED, at(day, 12), errcode=84071)
    welcome(poster, "amy", WelcomeLog.Outcome.NOTHING, at(day, 13))
    welcome(poster, "amy", WelcomeLog.Outcome.EXPIRED, at(days_ago(2), 13))

    rows = channel_stats(channel_id=poster.pk, start=days_ago(4), end=TODAY, today=TODAY)

    by_day = {row.day: row for row in rows}
    assert (by_day[day].welcome_sent, by_day[day].welcome_due) == (2, 3)
    assert by_day[day].welcome_rate == pytest.approx(2 / 3, abs=1e-4)
    assert by_day[days_ago(2)].welcome_rate == 0
    assert by_day[days_ago(1)].welcome_rate is None  # nothing was due


def test_per_guide_per_day_and_per_guide_over_the_range(poster):
    amy, bob = GuideFactory(userid="amy", name="Amy"), GuideFactory(userid="bob", name="Bob")
    for hour in (9, 10, 11):
        RelationFactory(guide=amy, channel=poster, added_at=at(days_ago(9), hour))
    RelationFactory(guide=bob, channel=poster, added_at=at(days_ago(9), 12))
    RelationFactory(guide=bob, channel=poster, added_at=at(days_ago(1), 12))
    welcome(poster, "bob", WelcomeLog.Outcome.SENT, at(days_ago(1), 12))
    # a welcome for a userid the contact book does not know yet
    welcome(poster, "newbie", WelcomeLog.Outcome.FAILED, at(days_ago(1), 13), errcode=41096)

    per_day = channel_stats(
        channel_id=poster.pk, start=days_ago(10), end=TODAY, by="guide", today=TODAY
    )
    totals = channel_stats(
        channel_id=poster.pk, start=days_ago(10), end=TODAY, by="guide_total", today=TODAY
    )

    assert [(r.day, r.guide_userid, r.adds, r.welcome_sent, r.welcome_due) for r in per_day] == [
        (days_ago(9), "amy", 3, 0, 0),
        (days_ago(9), "bob", 1, 0, 0),
        (days_ago(1), "bob", 1, 1, 1),
        (days_ago(1), "newbie", 0, 0, 1),
    ]
    assert (per_day[0].guide_id, per_day[0].guide_name) == (amy.pk, "Amy")
    assert per_day[3].guide_id is None
    summary = {r.guide_userid: (r.adds, r.retained, r.retention_base) for r in totals}
    # bob's add of yesterday is not 7 days old: it is left out of "still friends"
    assert summary == {"amy": (3, 3, 3), "bob": (2, 1, 1), "newbie": (0, 0, 0)}


@pytest.mark.parametrize("relations", [3, 30])
def test_stats_cost_the_same_queries_whatever_the_rows(
    poster, django_assert_num_queries, relations
):
    guides = [GuideFactory() for _ in range(3)]
    now = timezone.now()
    for index in range(relations):
        RelationFactory(
            guide=guides[index % 3], channel=poster, added_at=now - timedelta(hours=index)
        )
        welcome(poster, str(guides[index % 3].userid), "sent", now - timedelta(hours=index))

    today = timezone.localdate()
    start = today - timedelta(days=30)
    with django_assert_num_queries(3):  # adds, deletions, welcomes
        rows = channel_stats(channel_id=poster.pk, start=start, end=today, by="day")
    with django_assert_num_queries(4):  # + the guides' names
        channel_stats(channel_id=poster.pk, start=start, end=today, by="guide")
    assert sum(row.adds for row in rows) == relations


def test_a_range_is_at_most_366_days_and_in_order():
    assert stats_range(date(2026, 1, 1), date(2026, 12, 31)) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
    )
    with pytest.raises(StatsRangeError):
        stats_range(date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(StatsRangeError):
        stats_range(date(2025, 1, 1), date(2026, 1, 2))
