"""Reads of channels: lists for the console and the API, a channel's live state, and its
stats per day.

Stats are counted in SQL, one GROUP BY per measure, on the tenant's days (Asia/Shanghai):

- adds: relations the channel brought, by the day they were added;
- deletions: those relations the customer deleted (status `deleted_by_customer`), by the
  day of the deletion (`deleted_at`, else the status change);
- net: adds - deletions of the same day (the deletions may be of earlier adds);
- still friends after 7 days: of the adds of day D, how many are still active now, shown
  once D is at least 7 days old (None before);
- welcome success: welcomes sent / welcomes due, where every outcome but "no welcome
  configured" (and one still in flight) is due; by the day of the add event.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_qr.models import (
    Channel,
    ChannelGroup,
    ChannelGuide,
    LiveCode,
    WelcomeLog,
    WelcomeMessage,
)
from channels_qr.strategies import adds_today
from contacts.models import Guide, Relation

STATS_DAYS_MAX = 366
STATS_DAYS_DEFAULT = 30
RETENTION_DAYS = 7
FAILURES_SHOWN = 10
PENDING = "pending"  # a welcome still being sent (channels_qr.welcome)
# Outcomes that do not count against the success rate: nothing was due.
NOT_DUE = (WelcomeLog.Outcome.NOTHING, PENDING)

StatsBy = Literal["day", "guide", "guide_total"]


def local_today() -> date:
    return timezone.localdate()


def start_of(day: date) -> datetime:
    """Midnight of `day` in the tenant's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


# --- groups and channels -------------------------------------------------------------------


def channel_group_list() -> QuerySet[ChannelGroup]:
    """Groups with how many channels (not deleted) each holds."""
    return ChannelGroup.objects.annotate(
        channel_count=Count("channels", filter=Q(channels__deleted_at__isnull=True))
    ).order_by("order", "name", "id")


def channel_group_get(*, group_id: int) -> ChannelGroup:
    return channel_group_list().get(pk=group_id)


def _adds_since(since: datetime) -> Coalesce:
    counted = (
        Relation.objects.filter(channel_id=OuterRef("pk"), added_at__gte=since)
        .order_by()
        .values("channel_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def channel_list(
    *, group_id: int | None = None, deleted: bool | None = False, now: datetime | None = None
) -> QuerySet[Channel]:
    """Channels by name with their group, store, backup guide, live codes, guides and hours, and
    `adds_today` (relations brought since local midnight): a fixed number of queries
    whatever the number of channels."""
    today = timezone.localtime(now or timezone.now()).date()
    qs = Channel.objects.all()
    if deleted is not None:
        qs = qs.filter(deleted_at__isnull=not deleted)
    if group_id is not None:
        qs = qs.filter(group_id=group_id)
    guides = ChannelGuide.objects.select_related("guide").order_by("id")
    return (
        qs.select_related("group", "store", "backup_guide")
        .prefetch_related(
            Prefetch("live_codes", queryset=LiveCode.objects.order_by("id")),
            Prefetch("guides", queryset=guides),
            "hours",
        )
        .annotate(adds_today=_adds_since(start_of(today)))
        .order_by("name", "id")
    )


def channel_get(*, channel_id: int) -> Channel:
    """One channel (deleted ones too: their history stays readable)."""
    return channel_list(deleted=None).get(pk=channel_id)


def contact_ways_in_use() -> int:
    """Contact ways this platform created in WeCom and has not deleted (WeCom allows
    `CONTACT_WAYS_PER_CORP` per corp)."""
    return LiveCode.objects.exclude(config_id="").count()


@dataclass
class GuideToday:
    guide: Guide
    daily_cap: int | None
    weight: int
    adds: int
    listed: bool  # on the way's member list as last pushed

    @property
    def over_cap(self) -> int:
        return max(0, self.adds - self.daily_cap) if self.daily_cap else 0


def channel_guides_today(channel: Channel, *, now: datetime | None = None) -> list[GuideToday]:
    """The channel's guides (the store's for the store strategy) with today's adds against
    their caps, and whether the way lists them now. The backup guide is listed last when
    it took customers today."""
    now = now or timezone.now()
    adds = adds_today([channel.pk], now=now)
    members = {userid for code in channel.live_codes.all() for userid in code.members}
    rows: list[GuideToday] = []
    entries: list[tuple[Guide, int | None, int]]
    if channel.strategy == Channel.Strategy.STORE:
        store_guides = Guide.objects.filter(store_id=channel.store_id or 0).order_by("userid")
        entries = [(guide, None, 1) for guide in store_guides]
    else:
        entries = [(e.guide, e.daily_cap, e.weight) for e in channel.guides.all()]
    seen = set()
    for guide, cap, weight in entries:
        seen.add(guide.pk)
        rows.append(
            GuideToday(
                guide=guide,
                daily_cap=cap,
                weight=weight,
                adds=adds.get((channel.pk, guide.pk), 0),
                listed=guide.userid in members,
            )
        )
    backup = channel.backup_guide
    if backup is not None and backup.pk not in seen:
        rows.append(
            GuideToday(
                guide=backup,
                daily_cap=None,
                weight=0,
                adds=adds.get((channel.pk, backup.pk), 0),
                listed=backup.userid in members,
            )
        )
    return rows


# --- welcomes -----------------------------------------------------------------------------


def channel_welcome_logs(channel_id: int) -> QuerySet[WelcomeLog]:
    """The welcome logs of the channel's adds (each log names its channel from the start)."""
    return WelcomeLog.objects.filter(channel_id=channel_id)


def welcome_outcome_counts(*, channel_id: int, start: date, end: date) -> dict[str, int]:
    """Welcome outcomes of the channel's adds from `start` to `end` (local days)."""
    rows = (
        channel_welcome_logs(channel_id)
        .filter(
            done_at__gte=start_of(start),
            event_at__gte=start_of(start),
            event_at__lt=start_of(end + timedelta(days=1)),
        )
        .values("outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["outcome"]: row["n"] for row in rows}


def welcome_failures(*, channel_id: int, limit: int = FAILURES_SHOWN) -> list[WelcomeLog]:
    """The channel's latest welcomes that were not delivered: failed or expired."""
    return list(
        channel_welcome_logs(channel_id)
        .filter(outcome__in=[WelcomeLog.Outcome.FAILED, WelcomeLog.Outcome.EXPIRED])
        .order_by("-done_at", "-id")[:limit]
    )


def welcome_message_list() -> list[WelcomeMessage]:
    """The default first, then stores, then guides (by name)."""
    order = {WelcomeMessage.Scope.DEFAULT: 0, WelcomeMessage.Scope.STORE: 1}
    messages = list(WelcomeMessage.objects.select_related("guide", "store").order_by("id"))

    def key(message: WelcomeMessage) -> tuple[int, str]:
        name = ""
        if message.store is not None:
            name = message.store.name
        elif message.guide is not None:
            name = message.guide.name or message.guide.userid
        return (order.get(WelcomeMessage.Scope(message.scope), 2), name)

    return sorted(messages, key=key)


# --- stats --------------------------------------------------------------------------------


class StatsRangeError(ValueError):
    """A date range the stats cannot answer (reversed or too long)."""


@dataclass
class StatsRow:
    """One day, one guide on one day, or one guide over the range."""

    day: date | None = None
    guide_id: int | None = None
    guide_userid: str = ""
    guide_name: str = ""
    adds: int = 0
    deletions: int = 0
    # Of the adds at least RETENTION_DAYS old: how many (base) and how many are still active.
    retention_base: int = 0
    retained: int = 0
    welcome_sent: int = 0
    welcome_due: int = 0
    # False for a day younger than RETENTION_DAYS: "still friends" is not known yet.
    retention_known: bool = True

    @property
    def net(self) -> int:
        return self.adds - self.deletions

    @property
    def retained_7d(self) -> int | None:
        """Still friends after 7 days, or None while the day is younger than that."""
        return self.retained if self.retention_known else None

    @property
    def welcome_rate(self) -> float | None:
        return round(self.welcome_sent / self.welcome_due, 4) if self.welcome_due else None


def stats_range(start: date | None, end: date | None) -> tuple[date, date]:
    """The range asked for, defaulting to the last STATS_DAYS_DEFAULT days up to today."""
    end = end or local_today()
    start = start or end - timedelta(days=STATS_DAYS_DEFAULT - 1)
    if start > end:
        raise StatsRangeError(_("the start date is after the end date"))
    if (end - start).days + 1 > STATS_DAYS_MAX:
        raise StatsRangeError(_("at most %(n)d days at a time") % {"n": STATS_DAYS_MAX})
    return start, end


def _keys(by: StatsBy) -> tuple[str, ...]:
    return {"day": ("day",), "guide": ("day", "guide_id"), "guide_total": ("guide_id",)}[by]


def channel_stats(
    *, channel_id: int, start: date, end: date, by: StatsBy = "day", today: date | None = None
) -> list[StatsRow]:
    """The channel's stats from `start` to `end` (local days, both included): one row per
    day (every day, zeros too), per guide per day (days with something only), or per guide
    over the range. Three GROUP BY queries (+ one for the guides' names)."""
    start, end = stats_range(start, end)
    today = today or local_today()
    tz = timezone.get_current_timezone()
    since, until = start_of(start), start_of(end + timedelta(days=1))
    # Adds before this instant are at least RETENTION_DAYS (local) days old.
    settled = start_of(today - timedelta(days=RETENTION_DAYS - 1))
    keys = _keys(by)
    rows: dict[tuple[Any, ...], StatsRow] = {}

    def row(values: dict[str, Any]) -> StatsRow:
        key = tuple(values[k] for k in keys)
        if key not in rows:
            rows[key] = StatsRow(day=values.get("day"), guide_id=values.get("guide_id"))
        return rows[key]

    added = (
        Relation.objects.filter(channel_id=channel_id, added_at__gte=since, added_at__lt=until)
        .annotate(day=TruncDate("added_at", tzinfo=tz))
        .values(*keys)
        .annotate(
            adds=Count("id"),
            base=Count("id", filter=Q(added_at__lt=settled)),
            retained=Count("id", filter=Q(added_at__lt=settled, status=Relation.Status.ACTIVE)),
        )
        .order_by()
    )
    for values in added:
        target = row(values)
        target.adds += values["adds"]
        target.retention_base += values["base"]
        target.retained += values["retained"]

    deleted = (
        Relation.objects.filter(channel_id=channel_id, status=Relation.Status.DELETED_BY_CUSTOMER)
        .annotate(gone_at=Coalesce(F("deleted_at"), F("status_changed_at")))
        .filter(gone_at__gte=since, gone_at__lt=until)
        .annotate(day=TruncDate("gone_at", tzinfo=tz))
        .values(*keys)
        .annotate(n=Count("id"))
        .order_by()
    )
    for values in deleted:
        row(values).deletions += values["n"]

    welcome_keys = tuple("userid" if k == "guide_id" else k for k in keys)
    welcomed = (
        channel_welcome_logs(channel_id)
        .filter(
            done_at__gte=since,  # done after the event: lets the (channel, done_at) index work
            event_at__gte=since,
            event_at__lt=until,
        )
        .annotate(day=TruncDate("event_at", tzinfo=tz))
        .values(*welcome_keys)
        .annotate(
            sent=Count("id", filter=Q(outcome=WelcomeLog.Outcome.SENT)),
            due=Count("id", filter=~Q(outcome__in=NOT_DUE)),
        )
        .order_by()
    )
    welcome_rows = list(welcomed)
    guides = _guides_for(
        {k[keys.index("guide_id")] for k in rows} if "guide_id" in keys else set(),
        {v["userid"] for v in welcome_rows} if "guide_id" in keys else set(),
    )
    by_userid = {g.userid: g for g in guides.values()}
    for values in welcome_rows:
        if "guide_id" in keys:
            guide = by_userid.get(values["userid"])
            values["guide_id"] = guide.pk if guide is not None else f"userid:{values['userid']}"
        target = row(values)
        target.welcome_sent += values["sent"]
        target.welcome_due += values["due"]

    if by == "day":
        day = start
        while day <= end:
            rows.setdefault((day,), StatsRow(day=day))
            day += timedelta(days=1)
    result = []
    for stats in rows.values():
        if isinstance(stats.guide_id, str):  # a userid with no guide row
            stats.guide_userid = stats.guide_userid or stats.guide_id.removeprefix("userid:")
            stats.guide_id = None
        guide = guides.get(stats.guide_id) if stats.guide_id is not None else None
        if guide is not None:
            stats.guide_userid, stats.guide_name = guide.userid, guide.name
        if stats.day is not None:
            stats.retention_known = stats.day <= today - timedelta(days=RETENTION_DAYS)
        else:
            stats.retention_known = stats.retention_base > 0
        result.append(stats)
    result.sort(key=lambda s: (s.day or date.min, s.guide_userid))
    return result


def _guides_for(ids: Iterable[Any], userids: Iterable[str]) -> dict[int, Guide]:
    ids = [i for i in ids if isinstance(i, int)]
    userids = [u for u in userids if u]
    if not ids and not userids:
        return {}
    found = Guide.objects.filter(Q(pk__in=ids) | Q(userid__in=userids)).only("id", "userid", "name")
    return {guide.pk: guide for guide in found}


def stats_total(rows: Iterable[StatsRow]) -> StatsRow:
    """The rows added up (over days, or over guides)."""
    total = StatsRow()
    for stats in rows:
        total.adds += stats.adds
        total.deletions += stats.deletions
        total.retention_base += stats.retention_base
        total.retained += stats.retained
        total.welcome_sent += stats.welcome_sent
        total.welcome_due += stats.welcome_due
    total.retention_known = total.retention_base > 0
    return total


def stats_by_day_chart(rows: list[StatsRow]) -> dict[str, list[Any]]:
    """The day rows as chart series."""
    series: dict[str, list[Any]] = defaultdict(list)
    for stats in rows:
        series["days"].append(stats.day.isoformat() if stats.day else "")
        series["adds"].append(stats.adds)
        series["deletions"].append(stats.deletions)
        series["net"].append(stats.net)
        series["retained_7d"].append(stats.retained_7d)
        series["welcome_rate"].append(stats.welcome_rate)
    return dict(series)
