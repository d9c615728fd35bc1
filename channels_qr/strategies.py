"""Assignment strategies, carried out by keeping each live code's member list in step.

WeCom picks a member at random among a multi-person contact way's members, and tells us
only afterwards (add_external_contact). So a strategy is the member list it keeps on the
way, recomputed on a schedule (every minute, for working hours) and after every add (for
caps and weights), and pushed with update_contact_way only when it changed:

- one guide, several guides, the guides of one store: exact (the list is the rule);
- working hours with an off-hours guide: exact to the minute of the schedule;
- a daily cap per guide: approximate. A guide leaves the list after the add that reaches
  the cap is processed; adds WeCom made in between (a burst) go over the cap;
- weights: approximate. Only the guides furthest behind their share (adds today / weight)
  stay on the list, so counts follow the weights within about one add per guide, plus
  bursts;
- all guides capped, outside working hours, or the channel inactive or outside its dates:
  the backup guide alone (or, with none, the list stays as it was: never an empty way).

A departed guide leaves every list at once (the member-deleted callback re-syncs).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django.db.models import Count
from django.utils import timezone

from channels_qr.models import Channel, ChannelGuide, LiveCode
from contacts.models import Guide, Relation
from scrm.wecom.client import WeComClient, wecom_client

WAY_MEMBERS_MAX = 100  # commonly quoted limit of users on one multi-person way (UNCONFIRMED)


@dataclass
class Plan:
    userids: list[str]
    reason: str  # "strategy" | "backup: capped" | "backup: off hours" | "backup: inactive"


def _start_of_day(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def adds_today(channel_ids: list[int], *, now: datetime) -> dict[tuple[int, int], int]:
    """(channel id, guide id) -> relations the channel brought the guide today (local day)."""
    rows = (
        Relation.objects.filter(channel_id__in=channel_ids, added_at__gte=_start_of_day(now))
        .values("channel_id", "guide_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(r["channel_id"], r["guide_id"]): r["n"] for r in rows}


def _usable(guide: Guide | None) -> bool:
    return guide is not None and guide.status == Guide.Status.ACTIVE and guide.customer_contact


def _in_hours(channel: Channel, now: datetime) -> bool:
    hours = list(channel.hours.all())
    if not hours:
        return True
    local = timezone.localtime(now)
    today: time = local.time()
    return any(h.weekday == local.isoweekday() and h.start <= today < h.end for h in hours)


def _live(channel: Channel, now: datetime) -> bool:
    if not channel.is_active:
        return False
    if channel.starts_at and now < channel.starts_at:
        return False
    return not (channel.ends_at and now >= channel.ends_at)


def plan_members(
    channel: Channel, *, now: datetime, adds: dict[tuple[int, int], int], store_guides: Any = None
) -> Plan:
    """The userids the channel's way should list now (channel with guides, hours and backup
    prefetched; `store_guides` the store strategy's guides)."""
    backup = channel.backup_guide if _usable(channel.backup_guide) else None
    if channel.strategy == Channel.Strategy.STORE:
        entries = [ChannelGuide(channel=channel, guide=g) for g in store_guides or []]
    else:
        entries = list(channel.guides.all())
        if channel.strategy == Channel.Strategy.SINGLE:
            entries = entries[:1]
    entries = [e for e in entries if _usable(e.guide)]
    everyone = [e.guide.userid for e in entries]

    def fallback(reason: str) -> Plan:
        return Plan([backup.userid], reason) if backup else Plan(everyone, "strategy")

    if not _live(channel, now):
        return fallback("backup: inactive")
    if not _in_hours(channel, now):
        return fallback("backup: off hours")
    count = {e.guide_id: adds.get((channel.pk, e.guide_id), 0) for e in entries}
    open_ = [e for e in entries if e.daily_cap is None or count[e.guide_id] < e.daily_cap]
    if entries and not open_:
        return fallback("backup: capped")
    if channel.strategy == Channel.Strategy.WEIGHTED and open_:
        ratio = {e.guide_id: count[e.guide_id] / max(e.weight, 1) for e in open_}
        lowest = min(ratio.values())
        open_ = [e for e in open_ if ratio[e.guide_id] <= lowest + 1e-9]
    open_.sort(key=lambda e: (count[e.guide_id], e.guide_id))
    return Plan([e.guide.userid for e in open_[:WAY_MEMBERS_MAX]], "strategy")


def channel_counts_adds(channel: Channel) -> bool:
    """Whether the channel's list depends on today's adds (caps or weights); prefetched."""
    return channel.strategy == Channel.Strategy.WEIGHTED or any(
        g.daily_cap is not None for g in channel.guides.all()
    )


def _channels(channel_ids: list[int] | None) -> list[Channel]:
    qs = Channel.objects.filter(deleted_at__isnull=True).select_related("backup_guide")
    if channel_ids is not None:
        qs = qs.filter(pk__in=channel_ids)
    return list(qs.prefetch_related("guides__guide", "hours", "live_codes"))


def _store_guides(channels: list[Channel]) -> dict[int, list[Guide]]:
    store_ids = {c.store_id for c in channels if c.strategy == Channel.Strategy.STORE}
    guides: dict[int, list[Guide]] = defaultdict(list)
    for guide in Guide.objects.filter(store_id__in=store_ids).order_by("id"):
        if guide.store_id is not None:
            guides[guide.store_id].append(guide)
    return guides


def live_codes_sync(
    *,
    channel_ids: list[int] | None = None,
    now: datetime | None = None,
    client: WeComClient | None = None,
) -> int:
    """Push every changed member list to WeCom; returns how many ways were updated.
    Idempotent: a list equal to the last one pushed is not sent."""
    now = now or timezone.now()
    channels = _channels(channel_ids)
    if not channels:
        return 0
    counted = [c.pk for c in channels if channel_counts_adds(c)]
    adds = adds_today(counted, now=now) if counted else {}
    store_guides = _store_guides(channels)
    pushed = 0
    for channel in channels:
        plan = plan_members(
            channel, now=now, adds=adds, store_guides=store_guides.get(channel.store_id or 0)
        )
        if not plan.userids:
            continue  # WeCom refuses an empty way: keep the last list
        for code in channel.live_codes.all():
            # Compared as sets: WeCom picks at random, the order means nothing, and pushing
            # a reordered list after every add cost one WeCom call per add (bench/welcome.py).
            if code.config_id and set(code.members) != set(plan.userids):
                client = client or wecom_client(app_kind="customer_contact")
                client.post(
                    "externalcontact/update_contact_way",
                    data={"config_id": code.config_id, "user": plan.userids},
                )
                LiveCode.objects.filter(pk=code.pk).update(
                    members=plan.userids, members_synced_at=now
                )
                pushed += 1
    return pushed


def channels_with_guide(guide_id: int) -> list[int]:
    """Channels whose way lists the guide, or that could (store, backup)."""
    guide = Guide.objects.filter(pk=guide_id).values_list("userid", "store_id").first()
    if guide is None:
        return []
    userid, store_id = guide
    ids = set(
        LiveCode.objects.filter(members__contains=[userid]).values_list("channel_id", flat=True)
    )
    ids |= set(ChannelGuide.objects.filter(guide_id=guide_id).values_list("channel_id", flat=True))
    ids |= set(Channel.objects.filter(backup_guide_id=guide_id).values_list("pk", flat=True))
    if store_id is not None:
        ids |= set(Channel.objects.filter(store_id=store_id).values_list("pk", flat=True))
    return sorted(ids)
