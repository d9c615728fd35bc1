"""Benchmark: handing over departed guides' customers (离职继承) through the WeCom sandbox.

    .venv/bin/python bench/handover.py              # 50 departed guides, 100,000 customers
    .venv/bin/python bench/handover.py --smoke      # 3 guides, 300 customers (tests)
    .venv/bin/python bench/handover.py --per-guide  # one handover per guide instead of one
    .venv/bin/python bench/handover.py --json       # one JSON object of all figures

Builds a fresh database with one tenant connected to a corp of a fresh WeCom sandbox. The
sandbox is seeded with the departing guides spread over stores (departments), each customer
followed by one of them, and takeover guides in the same stores; one full contacts sync
brings it all into the database. The guides then leave (`member_leaves` in the sandbox,
`contacts.incremental.guide_departed` here, as the delete_user callback does). Then, in
this process and in the tenant's schema (issue #9):

1. allocation: `allocation_plan` (the preview) and `handover_start` (plan again, items
   written), evenly among the guides of each departed guide's store: seconds and items/s;
2. sending: `handover_send` in slices, as `handover_send_task` does, until every item is
   waiting; the WeCom transfer calls per second, against the baseline measured in the same
   run: a plain loop of as many cheap calls (`get_follow_user_list`) through the same
   rate-limited client (bulk priority, the corp's limits set explicitly), and against the
   limiter's ceiling for that many calls;
3. results: the sandbox clock moves past WeCom's 24 hours, then `handover_poll` until
   every item is final: the wall time from the clock advance to the last item final;
4. correctness: every customer transferred exactly once in the sandbox, followed there by
   the taker the platform chose (and no longer by the departed guide), and in the database
   one active relation (the taker's) while the departed guide's is `transferred`. A
   duplicate or a lost customer prints `FAIL: ...` and the exit code is 1.

Also printed: where each phase spends its time (WeCom calls, and the handover functions
doing database work) and the peak RSS of this process and of the sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callbacks import admin_sql, services_env, with_path  # noqa: E402
from bench.contacts_sync import (  # noqa: E402
    SCHEMA,
    create_tenant,
    limiter_schedule,
    number,
    run_sync,
    stopwatch,
)

# The demo 0, broadcast 3, welcome 5, segments 6, contacts_sync 7, callbacks 8, test slots
# 9-15 and 4: 2 is this benchmark's.
REDIS_DB = 2
DAY = 24 * 3600
LEAVER_PREFIX = "leaver"
STATES = ["poster", "", "parcel", "store_qr"]
TRANSFER_API = "externalcontact/resigned/transfer_customer"
RESULT_API = "externalcontact/resigned/transfer_result"
BASELINE_API = "externalcontact/get_follow_user_list"
SMOKE = {"guides": 3, "customers": 300, "stores": 1, "takers_per_store": 3}
MAX_POLL_ROUNDS = 5

# Functions of the handover code timed by wrapping them (module attribute -> label); each
# is called through its module's globals, so the wrapper sees every call.
ALLOCATION_PARTS: dict[str, tuple[str, ...]] = {
    "handover.allocation": ("_customer_items", "_loads", "_assign"),
    "handover.services": ("allocation_plan", "_items_create", "audit_record"),
}
SEND_PARTS: dict[str, tuple[str, ...]] = {
    "handover.transfer": (
        "items_reconcile",
        "_claim_batch",
        "_still_held",
        "_save",
        "_renew",
        "_after_sending",
    ),
}
POLL_PARTS: dict[str, tuple[str, ...]] = {
    "handover.transfer": (
        "_pairs",
        "_latest_by_customer",
        "item_results_apply",
        "_save",
        "relations_move",
        "takers_notify",
        "handover_finish_if_final",
    ),
}


def log(message: str) -> None:
    print(f"[handover] {message}", file=sys.stderr, flush=True)


# --- environment ---------------------------------------------------------------------------


def configure(base: dict[str, str], db_name: str) -> None:
    """Point this process at the bench database, and Redis (cache, limiter, Celery broker)
    at our own database REDIS_DB."""
    redis_url = with_path(base["REDIS_URL"], f"/{REDIS_DB}")
    os.environ.update({k: v for k, v in base.items() if k != "DJANGO_SETTINGS_MODULE"})
    os.environ.update(
        DJANGO_SETTINGS_MODULE="scrm.settings.base",
        SCRM_ENV="development",
        SCRM_SERVICES_ENV=str(ROOT / ".local" / "none.env"),
        DATABASE_URL=with_path(base["DATABASE_URL"], f"/{db_name}"),
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        WECOM_SANDBOX_ENABLED="true",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def flush_redis() -> None:
    """The send tasks handover_start queued (nothing consumes them: this process sends),
    tokens and limiter windows of this run: the database is ours."""
    with contextlib.suppress(Exception):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident set size in MB: this process, or another one's (VmHWM)."""
    if pid is None:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# --- measuring -----------------------------------------------------------------------------


class CallMeter:
    """Counts and times every WeCom call of this process, by API (wraps the client)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def measuring(self) -> Iterator[CallMeter]:
        from scrm.wecom.client import WeComClient, _api_name

        original = WeComClient._request
        meter = self

        def counted(client: WeComClient, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
            api = _api_name(url_or_endpoint, client.API_BASE_URL)
            start = time.perf_counter()
            try:
                return original(client, method, url_or_endpoint, **kwargs)
            finally:
                meter.calls[api] += 1
                meter.seconds[api] += time.perf_counter() - start

        setattr(WeComClient, "_request", counted)  # noqa: B010 - mypy: a method replaced
        try:
            yield self
        finally:
            setattr(WeComClient, "_request", original)  # noqa: B010

    def figures(self) -> dict[str, Any]:
        return {
            api: {"calls": n, "seconds": round(self.seconds[api], 2)}
            for api, n in sorted(self.calls.items())
        }


@contextlib.contextmanager
def parts_timer(parts: dict[str, tuple[str, ...]]) -> Iterator[dict[str, dict[str, float]]]:
    """Wrap the named module functions: total seconds and calls of each (a nested call of
    a wrapped function counts in both)."""
    import importlib

    spent: dict[str, dict[str, float]] = defaultdict(lambda: {"seconds": 0.0, "calls": 0})
    restore: list[tuple[Any, str, Any]] = []

    def wrap(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label]["seconds"] += time.perf_counter() - start
                spent[label]["calls"] += 1

        return timed

    for module_name, names in parts.items():
        module = importlib.import_module(module_name)
        for name in names:
            original = getattr(module, name)
            restore.append((module, name, original))
            setattr(module, name, wrap(name, original))
    try:
        yield spent
    finally:
        for module, name, original in restore:
            setattr(module, name, original)


def rounded(spent: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        k: {"seconds": round(v["seconds"], 2), "calls": int(v["calls"])} for k, v in spent.items()
    }


# --- sandbox and database ------------------------------------------------------------------


def leaver_userids(control: Any, corp_id: str, guides: int) -> dict[str, int]:
    """The seeded departing guides (userid -> department), as the sandbox's seed names them."""
    width = max(5, len(str(guides)))
    userids = [f"{LEAVER_PREFIX}{n:0{width}d}" for n in range(1, guides + 1)]
    return {u: int(control.member(corp_id, u)["department"][0]) for u in userids}


def seed_sandbox(
    control: Any, corp_id: str, *, guides: int, customers: int, stores: int, takers: int
) -> dict[str, Any]:
    """`guides` departing guides over `stores` departments holding `customers` customers
    (round robin, one follow each), then `takers` takeover guides in each of those stores."""
    with stopwatch() as seed_time:
        control.seed(
            corp_id,
            members=guides,
            departments=stores,
            customers=customers,
            follows_per_customer=1,
            member_prefix=LEAVER_PREFIX,
            states=STATES,
            random_seed=9,
        )
        leavers = leaver_userids(control, corp_id, guides)
        taker_store: dict[str, int] = {}
        for department in sorted(set(leavers.values())):
            for k in range(1, takers + 1):
                userid = f"taker{department:03d}x{k:03d}"
                control.add_member(
                    corp_id,
                    userid,
                    name=f"接手{department}-{k}",
                    department=[department],
                    notify=False,
                )
                taker_store[userid] = department
        # Who follows whom before anything moves: the truth the checks compare against.
        original = sandbox_followers(control, corp_id)
    if len(original) != customers or any(len(v) != 1 for v in original.values()):
        raise RuntimeError(f"the sandbox seed is not {customers:,} customers with one follow")
    per_leaver = Counter(userids[0] for userids in original.values())
    return {
        "leavers": leavers,
        "takers": taker_store,
        "original": {ext: userids[0] for ext, userids in original.items()},
        "figures": {
            "departed_guides": guides,
            "customers": customers,
            "stores": len(set(leavers.values())),
            "takers": len(taker_store),
            "customers_per_departed_guide": {
                "min": min(per_leaver.values()),
                "max": max(per_leaver.values()),
            },
            "seed_seconds": round(seed_time[0], 1),
        },
    }


def sandbox_followers(control: Any, corp_id: str) -> dict[str, list[str]]:
    """external_userid -> the userids of the active members following them (snapshot, paged)."""
    followers: dict[str, list[str]] = defaultdict(list)
    offset = 0
    while True:
        page = control.snapshot(corp_id, offset=offset, limit=100_000)
        for row in page["relations"]:
            followers[row[1]].append(row[0])
        offset += len(page["relations"])
        if not page["relations"] or offset >= page["relations_total"]:
            return dict(followers)


def guides_depart(control: Any, corp_id: str, leavers: list[str]) -> None:
    """The members leave in WeCom; the platform marks them departed, as the delete_user
    callback does (the sandbox's callbacks go nowhere here: the corp has no callback URL)."""
    from django.utils import timezone

    from contacts.incremental import guide_departed

    for userid in leavers:
        control.member_leaves(corp_id, userid)
        guide_departed(userid=userid, at=timezone.now())


# --- the phases ----------------------------------------------------------------------------


def allocate(leavers: list[str], per_guide: bool, failures: list[str]) -> dict[str, Any]:
    """Preview (`allocation_plan`) then `handover_start`, evenly among each store's guides."""
    from contacts.models import Guide
    from handover.allocation import allocation_plan
    from handover.models import Handover
    from handover.services import handover_start

    from_guides = list(Guide.objects.filter(userid__in=leavers).order_by("pk"))
    groups = [[g] for g in from_guides] if per_guide else [from_guides]
    mode = Handover.Mode.EVEN_STORE
    with parts_timer(ALLOCATION_PARTS) as preview_parts, stopwatch() as preview_time:
        plans = [allocation_plan(from_guides=group, mode=mode) for group in groups]
    planned = sum(p.customers_allocated for p in plans)
    with parts_timer(ALLOCATION_PARTS) as start_parts, stopwatch() as start_time:
        handovers = [
            handover_start(
                from_guides=group, mode=mode, trigger=Handover.Trigger.OPERATOR, actor=None
            )
            for group in groups
        ]
    counts: Counter[str] = Counter()
    for plan in plans:
        counts.update(plan.counts())
    # Evenly: within each departed guide's customers, the takers' shares differ by at most one.
    uneven = []
    for plan in plans:
        by_giver: dict[int, Counter[int]] = defaultdict(Counter)
        for item in plan.items:
            if item.to_guide_id:
                by_giver[item.from_guide_id][item.to_guide_id] += 1
        for giver, shares in by_giver.items():
            if max(shares.values()) - min(shares.values()) > 1:
                uneven.append((giver, dict(shares)))
    if uneven:
        failures.append(f"allocation: not even among the store's guides: {uneven[:3]}")
    items = sum(h.items.count() for h in handovers)
    return {
        "handovers": [h.pk for h in handovers],
        "handover_count": len(handovers),
        "mode": str(mode),
        "plan_counts": dict(counts),
        "customers_planned": planned,
        "items_written": items,
        "preview_seconds": round(preview_time[0], 2),
        "preview_items_per_second": round(planned / preview_time[0], 1),
        "preview_parts": rounded(preview_parts),
        "start_seconds": round(start_time[0], 2),
        "start_items_per_second": round(items / start_time[0], 1),
        "start_parts": rounded(start_parts),
    }


def send(handover_ids: list[int]) -> dict[str, Any]:
    """`handover_send` a slice at a time (SLICE_BATCHES calls), as the send task runs it; a
    throttled slice waits the limiter's retry_after (the task is rescheduled with it)."""
    from django.db.models import Count

    from handover.models import Handover, TransferItem
    from handover.tasks import SLICE_BATCHES
    from handover.transfer import handover_send
    from scrm.wecom.errors import WeComRateLimited

    meter = CallMeter()
    throttled = slices = 0
    waited = 0.0
    with meter.measuring(), parts_timer(SEND_PARTS) as parts, stopwatch() as elapsed:
        for handover_id in handover_ids:
            while True:
                slices += 1
                try:
                    status = handover_send(handover_id=handover_id, max_batches=SLICE_BATCHES)
                except WeComRateLimited as exc:
                    throttled += 1
                    waited += exc.retry_after
                    time.sleep(exc.retry_after)
                    continue
                if status != Handover.Status.SENDING:
                    break
    calls = meter.calls[TRANSFER_API]
    statuses = dict(
        TransferItem.objects.filter(handover_id__in=handover_ids)
        .values_list("status")
        .annotate(n=Count("id"))
    )
    customers = sum(statuses.values())
    return {
        "seconds": round(elapsed[0], 2),
        "transfer_calls": calls,
        "customers_per_call": round(customers / calls, 1) if calls else 0.0,
        "calls_per_second": round(calls / elapsed[0], 1),
        "customers_per_second": round(customers / elapsed[0], 1),
        "slices": slices,
        "throttled": throttled,
        "throttled_wait_seconds": round(waited, 1),
        "item_statuses": statuses,
        "wecom": meter.figures(),
        "wecom_seconds": round(sum(meter.seconds.values()), 2),
        "parts": rounded(parts),
    }


def baseline(calls: int) -> dict[str, Any]:
    """`calls` cheap WeCom calls in a plain loop through the same client (customer_contact,
    bulk priority, the corp's limits), one warm-up first (the access token)."""
    from scrm.wecom.client import wecom_client
    from scrm.wecom.errors import WeComRateLimited

    client = wecom_client(app_kind="customer_contact", priority="bulk")
    client.get(BASELINE_API)
    throttled = 0
    with stopwatch() as elapsed:
        done = 0
        while done < calls:
            try:
                client.get(BASELINE_API)
            except WeComRateLimited as exc:
                throttled += 1
                time.sleep(exc.retry_after)
                continue
            done += 1
    return {
        "api": BASELINE_API,
        "calls": calls,
        "seconds": round(elapsed[0], 2),
        "calls_per_second": round(calls / elapsed[0], 1),
        "throttled": throttled,
    }


def ceiling(overrides: dict[str, Any], calls: int) -> dict[str, Any]:
    """What the client's limiter allows one API at bulk priority: each window's limit, the
    sustained rate, and the least time this run's calls need (sliding windows)."""
    from django.conf import settings

    from scrm.wecom.ratelimit import RateLimiter

    limiter = RateLimiter(tenant_schema=SCHEMA, corp_id="bench", overrides=overrides)
    windows, slots = [], []
    for window in limiter.windows:
        limit = limiter.effective_limit(window, "bulk")
        seconds = limiter.effective_window_ms(window) / 1000
        slots.append((limit, seconds))
        windows.append(
            {
                "scope": window.scope,
                "wecom_limit": window.limit,
                "wecom_window_seconds": window.seconds,
                "client_limit": limit,
                "client_window_seconds": seconds,
            }
        )
    floor = limiter_schedule(calls, slots)
    config = {**settings.WECOM_RATE_LIMITS, **overrides}
    first_window = min(slots, key=lambda slot: slot[1])
    return {
        "corp_rate_limits": overrides,
        "safety": config["safety"],
        "welcome_reserve": config["welcome_reserve"],
        "windows": windows,
        "burst_calls": min(limit for limit, _ in slots),
        "burst_window_seconds": first_window[1],
        "sustained_calls_per_second": round(min(limit / s for limit, s in slots), 2),
        "this_run_calls": calls,
        "this_run_floor_seconds": round(floor, 1),
        "this_run_ceiling_calls_per_second": round(calls / floor, 1) if floor else None,
    }


def poll(control: Any, handover_ids: list[int], failures: list[str]) -> dict[str, Any]:
    """Advance the sandbox clock past the takeover time, then `handover_poll` every
    handover until it is done; the wall time covers both."""
    from handover.models import Handover
    from handover.transfer import handover_poll

    meter = CallMeter()
    open_ids = list(handover_ids)
    rounds = 0
    with stopwatch() as elapsed:
        with stopwatch() as advance_time:
            control.advance_clock(DAY + 60)
        with meter.measuring(), parts_timer(POLL_PARTS) as parts, stopwatch() as poll_time:
            while open_ids and rounds < MAX_POLL_ROUNDS:
                rounds += 1
                open_ids = [
                    pk for pk in open_ids if handover_poll(handover_id=pk) != Handover.Status.DONE
                ]
    if open_ids:
        failures.append(
            f"results: handovers {open_ids} still not done after {rounds} rounds of polls"
        )
    return {
        "wall_seconds": round(elapsed[0], 2),
        "advance_clock_seconds": round(advance_time[0], 2),
        "poll_seconds": round(poll_time[0], 2),
        "poll_rounds": rounds,
        "wecom": meter.figures(),
        "wecom_seconds": round(sum(meter.seconds.values()), 2),
        "parts": rounded(parts),
    }


# --- correctness ---------------------------------------------------------------------------


def check(
    control: Any,
    corp_id: str,
    seeded: dict[str, Any],
    handover_ids: list[int],
    failures: list[str],
) -> dict[str, Any]:
    """Each customer: one transfer in WeCom, from their guide to a taker of the same store,
    the taker the platform chose; followed in WeCom by that taker alone; in the database one
    active relation (the taker's), the departed guide's `transferred`, the item accepted."""
    from django.db.models import Count

    from contacts.models import Relation
    from handover.models import Handover, TransferItem

    original: dict[str, str] = seeded["original"]
    leavers: dict[str, int] = seeded["leavers"]
    takers: dict[str, int] = seeded["takers"]
    with stopwatch() as load_time:
        transfers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in control.transfers(corp_id):
            transfers[row["external_userid"]].append(row)
        followers = sandbox_followers(control, corp_id)
        still_with_leavers = {u: control.customers(corp_id, userid=u, limit=1) for u in leavers}
        items: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for ext, giver, taker, status in TransferItem.objects.filter(
            handover_id__in=handover_ids, target=TransferItem.Target.CUSTOMER
        ).values_list("external_id", "from_guide__userid", "to_guide__userid", "status"):
            items[ext].append((giver, taker, status))
        active: dict[str, list[str]] = defaultdict(list)
        of_leavers: dict[str, list[str]] = defaultdict(list)
        for ext, userid, status in Relation.objects.values_list(
            "customer__external_userid", "guide__userid", "status"
        ):
            if status == Relation.Status.ACTIVE:
                active[ext].append(userid)
            if userid in leavers:
                of_leavers[ext].append(status)
    problems: dict[str, list[str]] = defaultdict(list)

    def problem(kind: str, text: str) -> None:
        problems[kind].append(text)

    for ext, giver in original.items():
        sent = transfers.get(ext, [])
        mine = items.get(ext, [])
        if len(sent) > 1:
            problem("duplicate: transferred more than once in WeCom", f"{ext} {len(sent)}x")
        if len(mine) > 1:
            problem("duplicate: more than one transfer item", f"{ext} {len(mine)}x")
        if len(followers.get(ext, [])) > 1:
            problem("duplicate: followed by several guides in WeCom", f"{ext} {followers[ext]}")
        if len(active.get(ext, [])) > 1:
            problem("duplicate: several active relations", f"{ext} {active[ext]}")
        if not sent:
            problem("lost: never transferred in WeCom", ext)
        if not mine:
            problem("lost: no transfer item", ext)
        if not followers.get(ext):
            problem("lost: followed by no active guide in WeCom", ext)
        if not active.get(ext):
            problem("lost: no active relation in the database", ext)
        if not sent or not mine:
            continue
        _giver, chosen, status = mine[0]
        transfer = sent[0]
        if status != TransferItem.Status.ACCEPTED:
            problem("item not accepted", f"{ext} {status}")
        if transfer["handover_userid"] != giver or transfer["status"] != 1:
            problem("WeCom transfer not from the guide, or not completed", f"{ext} {transfer}")
        if transfer["takeover_userid"] != chosen:
            problem("WeCom's taker is not the platform's", f"{ext} {transfer} {chosen}")
        if takers.get(chosen) != leavers[giver]:
            problem("taker not of the departed guide's store", f"{ext} {giver} -> {chosen}")
        if followers.get(ext) not in (None, [chosen]):
            problem("followed in WeCom by another guide", f"{ext} {followers[ext]} {chosen}")
        if active.get(ext) not in (None, [chosen]):
            problem("active relation with another guide", f"{ext} {active[ext]} {chosen}")
        if of_leavers.get(ext) != [Relation.Status.TRANSFERRED]:
            problem("departed guide's relation not transferred", f"{ext} {of_leavers.get(ext)}")
    extra = set(transfers) - set(original)
    if extra:
        problem("transfers of customers not handed over", f"{sorted(extra)[:5]}")
    for userid, left in still_with_leavers.items():
        if left:
            problem("a departed guide still follows customers in WeCom", f"{userid} {left}")
    statuses = dict(
        Handover.objects.filter(pk__in=handover_ids).values_list("status").annotate(n=Count("id"))
    )
    if statuses != {Handover.Status.DONE: len(handover_ids)}:
        problem("handover not done", str(statuses))
    for kind, examples in problems.items():
        failures.append(f"{kind}: {len(examples):,} customers, e.g. {examples[:3]}")
    duplicates = sum(len(v) for k, v in problems.items() if k.startswith("duplicate"))
    lost = sum(len(v) for k, v in problems.items() if k.startswith("lost"))
    return {
        "customers": len(original),
        "transfers_in_wecom": sum(len(v) for v in transfers.values()),
        "transfer_items": sum(len(v) for v in items.values()),
        "accepted": sum(1 for v in items.values() for i in v if i[2] == "accepted"),
        "duplicates": duplicates,
        "lost": lost,
        "problems": {k: len(v) for k, v in problems.items()},
        "handover_statuses": statuses,
        "load_seconds": round(load_time[0], 1),
    }


# --- report --------------------------------------------------------------------------------


def parts_text(parts: dict[str, dict[str, float]]) -> str:
    ordered = sorted(parts.items(), key=lambda kv: -kv[1]["seconds"])
    return ", ".join(f"{k} {v['seconds']} s ({number(int(v['calls']))}x)" for k, v in ordered)


def print_report(figures: dict[str, Any]) -> None:
    out: list[str] = []
    data = figures["data"]
    out.append(
        f"data: {number(data['departed_guides'])} departed guides in {data['stores']} stores "
        f"holding {number(data['customers'])} customers "
        f"({data['customers_per_departed_guide']['min']:,}-"
        f"{data['customers_per_departed_guide']['max']:,} each); {data['takers']} takeover "
        f"guides in the same stores; seeded in {data['seed_seconds']} s, synced in "
        f"{figures['sync']['seconds']} s"
    )
    alloc = figures["allocation"]
    out.append(
        f"allocation ({alloc['handover_count']} handover(s), {alloc['mode']}): "
        f"preview allocation_plan {alloc['preview_seconds']} s = "
        f"{number(alloc['preview_items_per_second'])} items/s; handover_start "
        f"{alloc['start_seconds']} s = {number(alloc['start_items_per_second'])} items/s "
        f"({number(alloc['items_written'])} items)"
    )
    out.append(f"  preview: {parts_text(alloc['preview_parts'])}")
    out.append(f"  start:   {parts_text(alloc['start_parts'])}")
    sent = figures["send"]
    base = figures["baseline"]
    cap = figures["ceiling"]
    out.append(
        f"sending: {number(sent['transfer_calls'])} transfer calls "
        f"({sent['customers_per_call']} customers each) in {sent['seconds']} s = "
        f"{sent['calls_per_second']} calls/s ({number(sent['customers_per_second'])} "
        f"customers/s), {sent['slices']} slices, throttled {sent['throttled']}x; items "
        f"{sent['item_statuses']}"
    )
    out.append(
        f"  WeCom calls {sent['wecom_seconds']} s: "
        + ", ".join(f"{k} {v['calls']}x {v['seconds']} s" for k, v in sent["wecom"].items())
    )
    out.append(f"  handover code: {parts_text(sent['parts'])}")
    out.append(
        f"  baseline: {number(base['calls'])} {base['api']} calls in a plain loop, same client "
        f"and limits: {base['seconds']} s = {base['calls_per_second']} calls/s"
    )
    floor = cap["this_run_floor_seconds"]
    out.append(
        f"  limiter ceiling (bulk; corp rate_limits {json.dumps(cap['corp_rate_limits'])}, "
        f"safety {cap['safety']}, welcome reserve {cap['welcome_reserve']}): "
        + "; ".join(
            f"{w['scope']} {number(w['client_limit'])} per {w['client_window_seconds']} s"
            for w in cap["windows"]
        )
        + f"; sustained {cap['sustained_calls_per_second']} calls/s; "
        + (
            f"this run's {number(cap['this_run_calls'])} calls need at least {floor} s = "
            f"{cap['this_run_ceiling_calls_per_second']} calls/s"
            if floor
            else f"this run's {number(cap['this_run_calls'])} calls fit in the first window "
            f"({number(cap['burst_calls'])} calls): the limiter does not slow them"
        )
    )
    ratio = figures["ratio"]
    out.append(
        f"  ratio: handover / baseline calls/s = {ratio['send_over_baseline']}; handover / "
        f"the limiter's sustained rate = {ratio['send_over_sustained']}"
        + (
            f"; handover / limiter ceiling = {ratio['send_over_ceiling']}"
            if ratio.get("send_over_ceiling") is not None
            else ""
        )
    )
    res = figures["results"]
    out.append(
        f"results: clock advanced 24 h + 60 s -> every item final in {res['wall_seconds']} s "
        f"(advance_clock {res['advance_clock_seconds']} s, handover_poll {res['poll_seconds']} "
        f"s in {res['poll_rounds']} round(s))"
    )
    out.append(
        f"  WeCom calls {res['wecom_seconds']} s: "
        + ", ".join(f"{k} {v['calls']}x {v['seconds']} s" for k, v in res["wecom"].items())
    )
    out.append(f"  handover code: {parts_text(res['parts'])}")
    chk = figures["check"]
    out.append(
        f"check: {number(chk['customers'])} customers, {number(chk['transfers_in_wecom'])} "
        f"transfers in WeCom, {number(chk['transfer_items'])} items, "
        f"{number(chk['accepted'])} accepted; duplicates {chk['duplicates']}, lost "
        f"{chk['lost']}"
    )
    out.append(
        f"peak RSS: this process {figures['peak_rss_mb']} MB, the sandbox "
        f"{figures['sandbox_peak_rss_mb']} MB; whole run {figures['run_seconds']} s"
    )
    for failure in figures["failures"]:
        out.append(f"FAIL: {failure}")
    print("\n".join(out))


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--guides", type=int, default=50, help="departing guides")
    parser.add_argument("--customers", type=int, default=100_000, help="their customers")
    parser.add_argument("--stores", type=int, default=5, help="stores they are spread over")
    parser.add_argument("--takers-per-store", type=int, default=10)
    parser.add_argument(
        "--per-minute",
        type=int,
        default=10_000,
        help="the corp's per-API limit per minute (WeCom's: 10,000), set on the corp",
    )
    parser.add_argument("--per-hour", type=int, default=150_000, help="per hour (WeCom's: 150,000)")
    parser.add_argument("--per-guide", action="store_true", help="one handover per departed guide")
    parser.add_argument("--smoke", action="store_true", help="3 guides, 300 customers")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.guides, args.customers = SMOKE["guides"], SMOKE["customers"]
        args.stores, args.takers_per_store = SMOKE["stores"], SMOKE["takers_per_store"]
    if args.stores > args.guides:
        sys.exit("--stores must not exceed --guides")

    started = time.perf_counter()
    base = services_env()
    db_name = f"scrm_bench_handover_{uuid.uuid4().hex[:8]}"
    admin_sql(base["DATABASE_URL"], f'CREATE DATABASE "{db_name}"')
    failures: list[str] = []
    figures: dict[str, Any] = {"failures": failures}
    sandbox = None
    try:
        configure(base, db_name)
        from django_tenants.utils import schema_context

        from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
        from wecom_sandbox.testing import SandboxProcess

        log(f"database {db_name}: migrating")
        tenant = create_tenant()
        sandbox = SandboxProcess.start()
        sandbox.control.timeout = 600  # seeding and settling 100,000 transfers take a while
        control = sandbox.control
        corp_id = f"wwbench{uuid.uuid4().hex[:11]}"
        limits = {"per_corp": [[args.per_minute, 60], [args.per_hour, 3600]]}
        with schema_context("public"):
            corp = connect_to_sandbox(sandbox, tenant, corp_id, **limits)
        with schema_context(SCHEMA):
            log(f"seeding {args.guides} guides, {args.customers:,} customers")
            seeded = seed_sandbox(
                control,
                corp_id,
                guides=args.guides,
                customers=args.customers,
                stores=args.stores,
                takers=args.takers_per_store,
            )
            figures["data"] = seeded["figures"]
            log(f"seeded: {figures['data']}; full contacts sync")
            figures["sync"] = {
                k: v for k, v in run_sync().items() if k in ("status", "seconds", "error")
            }
            if figures["sync"]["status"] != "done":
                raise RuntimeError(f"the contacts sync failed: {figures['sync']}")
            guides_depart(control, corp_id, list(seeded["leavers"]))

            log("allocating")
            figures["allocation"] = allocate(list(seeded["leavers"]), args.per_guide, failures)
            handover_ids = figures["allocation"]["handovers"]
            if figures["allocation"]["customers_planned"] != args.customers:
                failures.append(
                    f"allocation: {figures['allocation']['customers_planned']:,} customers "
                    f"planned of {args.customers:,}"
                )
            log(f"allocated: {figures['allocation']['items_written']:,} items; sending")
            figures["send"] = send(handover_ids)
            waiting = figures["send"]["item_statuses"].get("waiting", 0)
            if waiting != args.customers:
                failures.append(
                    f"sending: {waiting:,} items waiting of {args.customers:,}: "
                    f"{figures['send']['item_statuses']}"
                )
            calls = figures["send"]["transfer_calls"]
            log(f"sent: {calls} calls in {figures['send']['seconds']} s; baseline loop")
            figures["baseline"] = baseline(calls)
            figures["ceiling"] = ceiling(corp.rate_limits or {}, calls)
            ceiling_rate = figures["ceiling"]["this_run_ceiling_calls_per_second"]
            figures["ratio"] = {
                "send_over_baseline": round(
                    figures["send"]["calls_per_second"] / figures["baseline"]["calls_per_second"],
                    3,
                ),
                "send_over_ceiling": round(figures["send"]["calls_per_second"] / ceiling_rate, 3)
                if ceiling_rate
                else None,
                "send_over_sustained": round(
                    figures["send"]["calls_per_second"]
                    / figures["ceiling"]["sustained_calls_per_second"],
                    3,
                ),
            }
            log("advancing the sandbox clock 24 h; polling")
            figures["results"] = poll(control, handover_ids, failures)
            log(f"all final in {figures['results']['wall_seconds']} s; checking")
            figures["check"] = check(control, corp_id, seeded, handover_ids, failures)
        figures["peak_rss_mb"] = peak_rss_mb()
        figures["sandbox_peak_rss_mb"] = peak_rss_mb(sandbox.pid)
    finally:
        if sandbox is not None:
            sandbox.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        flush_redis()
        if args.keep_db:
            log(f"kept database {db_name}")
        else:
            admin_sql(base["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    figures["run_seconds"] = round(time.perf_counter() - started, 1)

    if args.json:
        print(json.dumps(figures, default=str))
    else:
        print_report(figures)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
