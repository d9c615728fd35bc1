"""Soak: the whole product under steady load and faults, then proof that nothing was lost,
nothing sent twice, and that memory stayed flat.

    .venv/bin/python bench/soak.py              # 30 minutes of load, then the drain (<= 20 min)
    .venv/bin/python bench/soak.py --minutes 60 # longer
    .venv/bin/python bench/soak.py --smoke      # ~1.5 minutes, smaller rates (tests)
    .venv/bin/python bench/soak.py --json       # the figures as one JSON object, last line

Not part of the fast test path: it restarts PostgreSQL and Redis on purpose, so it starts
its own (bench/soak_fleet.py: a cluster initialised under .local/soak/<run>/pg, a Redis
server with an append-only file, both on free ports) and never touches the project's shared
services. On them: migrations, one tenant connected to a corp of its own WeCom sandbox
process (seeded with guides in two stores and their customers, brought in by one full
contacts sync), a channel on the first store's guides with a welcome text and a tag, a saved
segment of every customer. Then gunicorn (2 workers), the Celery workers split as in
docker-compose.yml (`high`; `default,bulk`; `webhooks`) and beat.

The load, steady for `--minutes`:
- customers scan the channel's live code (`--scan-rate` per second): the sandbox sends
  the real encrypted add_external_contact callbacks, the platform welcomes and attributes;
- customers delete one of their guides (`--delete-rate` per second): del_follow_user;
- a group send to the segment every `--send-every` minutes, confirmed by the operator as
  soon as it is planned, with a deadline (`--send-deadline` minutes); the guides send each
  message in WeCom some seconds after it appears (the sandbox's confirm), except a guide
  who has left;
- one guide of the channel's store leaves at 40 % of the run (delete_user callback); the
  operator starts the proposed handover (evenly among the store's guides) and the customers
  accept the transfers (one in ten refuses) some seconds after WeCom has them.

The faults, meanwhile: the sandbox answers `--fault-rate` of every API call with a transient
error (WeCom busy -1 or 45009, or HTTP 500/502/503) and `--spike-rate` of them `--spike-ms`
late; Redis is restarted at one third of the run and PostgreSQL (`pg_ctl restart -m fast`)
at two thirds; a Celery worker (in turn: high, default+bulk, webhooks) is SIGKILLed with its
pool and started again every `--kill-every` minutes. With --smoke, the restarts and the kill
come at quiet points (the scans pause until the platform has caught up; the kill hits the
idle webhooks worker): a smoke run is too short for the platform's own sweepers (callbacks
re-queued after 1-10 minutes, messages of a killed worker back after the broker's one-hour
visibility timeout) to finish within it.

Then the load stops and the system drains (`--drain-minutes` at most), and the soak checks
and prints a summary table (bench/soak_checks.py): callbacks sent by WeCom, stored and
processed; every add attributed and its welcome handled once, no customer welcomed twice;
every deletion applied; every group send's deliveries final and equal to WeCom's result,
nobody receiving a message twice, no message planned and missing; every transfer item
final and equal to WeCom's transfer, no customer transferred twice; and the RSS of every
process (each web worker, each Celery worker with its pool, beat, the sandbox) sampled
every `--sample-seconds`: after the warm-up, at one third, at the end. A process is flat
when its RSS grew by at most max(FLAT_MB, FLAT_SHARE of its size) over the last two thirds
of the run (of its own life, for a worker started again after a kill). Exit 1 on any loss,
duplicate or unprocessed item, or, in a run of 10 minutes or more, memory not flat.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.contacts_sync import SCHEMA, create_tenant, run_sync  # noqa: E402
from bench.soak_checks import check_all, memory_figures, print_report  # noqa: E402
from bench.soak_fleet import Fleet, Servers, cpu_count, load_average, sample  # noqa: E402
from bench.welcome import WELCOME_TEXT  # noqa: E402

DB_NAME = "scrm_soak"
STORE_NAMES = ("静安店", "徐汇店")
SEND_TEXT = "第{n}次群发：{guide_name} 为您准备了本周新品，回复 1 预约试穿"
REFUSE_EVERY = 10  # one customer in ten refuses the transfer
DELETE_AFTER_SECONDS = 30  # a scanned customer may delete the guide after this long
KILL_ORDER = ("worker-high", "worker-bulk", "worker-webhooks")
# What a quiet point does not wait for: guides and customers answer in their own time.
SLOW_TO_SETTLE = ("group sends not final", "deliveries not final", "transfer items not final")
# The platform's periodic reads of WeCom's results, shortened from 5 and 10 minutes so the
# drain is not spent waiting for them (settings, as a deployment may set them).
PLATFORM_ENV = {"BROADCAST_SYNC_SECONDS": "60", "HANDOVER_POLL_SECONDS": "60"}
FULL = {
    "minutes": 30.0,
    "scan_rate": 1.0,
    "delete_rate": 0.1,
    "send_every": 5.0,
    "send_deadline": 8.0,
    "kill_every": 4.0,
    "drain_minutes": 20.0,
    "sample_seconds": 60.0,
    "guides": 12,
    "customers": 2000,
    "guide_delay": 20.0,
    "takeover_delay": 30.0,
}
SMOKE = {
    "minutes": 1.5,
    "scan_rate": 1.0,
    "delete_rate": 0.2,
    "send_every": 0.6,
    "send_deadline": 0.75,
    "kill_every": 0.0,
    "drain_minutes": 2.5,
    "sample_seconds": 10.0,
    "guides": 6,
    "customers": 300,
    "guide_delay": 3.0,
    "takeover_delay": 3.0,
}


STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[soak {time.monotonic() - STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


# --- environment ---------------------------------------------------------------------------


def configure(servers: Servers, smoke: bool) -> None:
    """Point this process and the fleet it starts at the soak's own servers."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="scrm.settings.base",
        SCRM_ENV="development",
        SCRM_SERVICES_ENV=str(ROOT / ".local" / "none.env"),
        DATABASE_URL=servers.database_url(DB_NAME),
        REDIS_URL=servers.redis_url,
        CELERY_BROKER_URL=servers.redis_url,
        WECOM_SANDBOX_ENABLED="true",
        LOG_LEVEL="WARNING",
        **PLATFORM_ENV,
    )
    if smoke:
        # The smoke's restarts come at quiet points; without persistent connections no
        # process meets a connection the PostgreSQL restart cut (the full run keeps 60 s).
        os.environ["DB_CONN_MAX_AGE"] = "0"
    import django

    django.setup()


def db_retry(action: Callable[[], Any], attempts: int = 20) -> Any:
    """Run a database action of this process, reconnecting while PostgreSQL restarts."""
    from django.db import InterfaceError, OperationalError, connections

    for attempt in range(attempts):
        try:
            return action()
        except (OperationalError, InterfaceError):
            connections.close_all()
            if attempt == attempts - 1:
                raise
            time.sleep(1.0)
    return None


# --- the world: tenant, sandbox, contact book, channel, segment ----------------------------


@dataclass
class World:
    corp_id: str
    sandbox_url: str
    config_id: str
    channel_id: int
    segment_id: int
    leaver: str
    store_guides: list[str]
    seeded: list[tuple[str, str]]  # (external_userid, userid) of the seeded relations


def build_world(sandbox: Any, web_port: int, guides: int, customers: int) -> World:
    """Seed the sandbox, connect the tenant, sync the contact book, create the channel and
    the segment; the callbacks of both apps go to gunicorn."""
    from django_tenants.utils import schema_context

    from channels_qr.models import Channel
    from channels_qr.services import ChannelData, GuideEntry, channel_create
    from contacts.models import Guide
    from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
    from tagging.segments import segment_save
    from tagging.services import tags_add
    from tenants.models import Tenant, WeComApp

    control = sandbox.control
    tenant = Tenant.objects.get(schema_name=SCHEMA)
    corp_id = f"wwsoak{uuid.uuid4().hex[:12]}"
    with schema_context("public"):
        connect_to_sandbox(sandbox, tenant, corp_id)
        sync_app = WeComApp.objects.get(corp__corp_id=corp_id, kind="contacts_sync")
        sync_app.callback_token, sync_app.encoding_aes_key = "soakSyncToken", "S" * 43
        sync_app.save()
        apps = {app.kind: app for app in WeComApp.objects.filter(corp__corp_id=corp_id)}
    for kind, app in apps.items():
        control.set_callback(
            corp_id,
            kind,
            f"http://127.0.0.1:{web_port}/wecom/callback/{corp_id}/{kind}/",
            token=app.callback_token,
            encoding_aes_key=app.encoding_aes_key,
        )
    control.seed(
        corp_id,
        members=guides,
        departments=len(STORE_NAMES),
        customers=customers,
        follows_per_customer=1,
        states=["poster", "", "parcel"],
        random_seed=12,
    )
    snapshot = control.snapshot(corp_id)
    seeded = [(row[1], row[0]) for row in snapshot["relations"]]
    members = {m["userid"]: m for m in snapshot["members"]}
    by_store: dict[int, list[str]] = {}
    for userid in sorted(members):
        by_store.setdefault(int(members[userid]["department"][0]), []).append(userid)
    store_guides = by_store[min(by_store)]
    with schema_context(SCHEMA):
        synced = run_sync()
        if synced["status"] != "done":
            raise RuntimeError(f"the contacts sync failed: {synced}")
        [tag] = tags_add(group_name="渠道来源", names=["门店海报"], actor=None)
        entries = [
            GuideEntry(pk)
            for pk in Guide.objects.filter(userid__in=store_guides)
            .order_by("userid")
            .values_list("pk", flat=True)
        ]
        channel = channel_create(
            data=ChannelData(
                name="门店海报（压测）",
                strategy=Channel.Strategy.SEVERAL,
                guides=entries,
                tag_ids=[tag.tag_id],
                welcome_text=WELCOME_TEXT,
            ),
            actor=None,
        )
        config_id = channel.live_codes.get().config_id
        segment = segment_save(
            segment=None, actor=None, name="全部客户", definition={"op": "and", "rules": []}
        )
    return World(
        corp_id=corp_id,
        sandbox_url=sandbox.url,
        config_id=config_id,
        channel_id=channel.pk,
        segment_id=segment.pk,
        leaver=store_guides[0],
        store_guides=store_guides,
        seeded=seeded,
    )


# --- the load ------------------------------------------------------------------------------


@dataclass
class Record:
    """What the load did, for the checks and the report (appended from several threads)."""

    scans: list[dict[str, Any]] = field(default_factory=list)
    deletions: list[dict[str, Any]] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    confirmed: set[str] = field(default_factory=set)
    decided: dict[str, str] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, at: float, kind: str, **detail: Any) -> None:
        with self.lock:
            self.events.append({"at": round(at, 1), "kind": kind, **detail})
        log(f"{kind} {detail if detail else ''}".rstrip())

    def error(self, where: str, exc: BaseException) -> None:
        with self.lock:
            self.errors[f"{where}: {type(exc).__name__}"] += 1


class Actor(threading.Thread):
    """A load thread: `step` every `interval` seconds until stopped; paused on demand."""

    def __init__(self, name: str, interval: float, step: Callable[[], None], record: Record):
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.step = step
        self.record = record
        self.stopping = threading.Event()
        self.paused = threading.Event()

    def run(self) -> None:
        due = time.monotonic()
        while not self.stopping.is_set():
            if self.paused.is_set():
                due = time.monotonic() + self.interval
                time.sleep(0.1)
                continue
            wait = due - time.monotonic()
            if wait > 0:
                self.stopping.wait(min(wait, 0.5))
                continue
            try:
                self.step()
            except Exception as exc:
                self.record.error(self.name, exc)
            # A fixed schedule; after a long stall (a restart) it starts again from now.
            due = max(due + self.interval, time.monotonic() - 5 * self.interval)
        from django.db import connections

        connections.close_all()

    def stop(self) -> None:
        self.stopping.set()


class Load:
    """The customers, guides and operator of the run (see the module docstring)."""

    def __init__(self, world: World, args: argparse.Namespace, record: Record) -> None:
        from wecom_sandbox.testing import SandboxControl

        self.world = world
        self.args = args
        self.record = record
        self.random = random.Random(20)
        self.pool = [(e, u) for e, u in world.seeded if u != world.leaver]
        self.fresh: list[tuple[float, str, str]] = []  # scanned, not yet eligible to delete
        self.departed = False
        self.scan_control = SandboxControl(world.sandbox_url, timeout=15)
        self.delete_control = SandboxControl(world.sandbox_url, timeout=15)
        self.people_control = SandboxControl(world.sandbox_url, timeout=15)
        self.scanner = Actor("scans", 1 / args.scan_rate, self.scan, record)
        self.deleter = Actor("deletions", 1 / args.delete_rate, self.delete, record)
        self.people = Actor("guides and customers", 2.0, self.people_act, record)

    def start(self) -> None:
        for actor in (self.scanner, self.deleter, self.people):
            actor.start()

    def pause(self, paused: bool) -> None:
        for actor in (self.scanner, self.deleter, self.people):
            (actor.paused.set if paused else actor.paused.clear)()

    def stop_customers(self) -> None:
        """Scans and deletions stop; guides and customers of WeCom go on answering."""
        for actor in (self.scanner, self.deleter):
            actor.stop()
        for actor in (self.scanner, self.deleter):
            actor.join(30)

    def stop_people(self) -> None:
        self.people.stop()
        self.people.join(30)

    def scan(self) -> None:
        n = len(self.record.scans) + 1
        answer = self.scan_control.scan(
            self.world.corp_id, self.world.config_id, name=f"顾客{n:05d}"
        )
        now = time.time()
        with self.record.lock:
            self.record.scans.append(
                {
                    "external_userid": answer["external_userid"],
                    "userid": answer["userid"],
                    "at": now,
                }
            )
            self.fresh.append((now, answer["external_userid"], answer["userid"]))

    def delete(self) -> None:
        now = time.time()
        with self.record.lock:
            while self.fresh and self.fresh[0][0] <= now - DELETE_AFTER_SECONDS:
                _, external_userid, userid = self.fresh.pop(0)
                self.pool.append((external_userid, userid))
            if not self.pool:
                return
            index = self.random.randrange(len(self.pool))
            external_userid, userid = self.pool.pop(index)
        if userid == self.world.leaver:
            return
        self.delete_control.customer_deletes_member(self.world.corp_id, external_userid, userid)
        with self.record.lock:
            self.record.deletions.append(
                {"external_userid": external_userid, "userid": userid, "at": now}
            )

    def people_act(self) -> None:
        """Guides send the messages WeCom shows them; customers answer transfers."""
        control, corp_id = self.people_control, self.world.corp_id
        now = control.now()
        page = control.templates(corp_id, offset=0, limit=10_000)
        for template in page["templates"]:
            if template["msgid"] in self.record.confirmed or template["cancelled"]:
                continue
            if template["creator"] == self.world.leaver:
                continue  # about to leave, they send nothing: the deadline cancels theirs
            if template["create_time"] > now - self.args.guide_delay:
                continue
            control.confirm_template(corp_id, template["msgid"])
            self.record.confirmed.add(template["msgid"])
        for transfer in control.transfers(corp_id):
            external_userid = transfer["external_userid"]
            if transfer["status"] != 2 or external_userid in self.record.decided:
                continue
            if transfer["started_at"] > now - self.args.takeover_delay:
                continue
            refuse = zlib.crc32(external_userid.encode()) % REFUSE_EVERY == 0
            outcome = "refuse" if refuse else "accept"
            control.decide_transfer(corp_id, external_userid, outcome)
            self.record.decided[external_userid] = outcome


# --- the operator ----------------------------------------------------------------------------


def group_send_start(world: World, number: int, deadline_minutes: float) -> int:
    """The operator saves a group send to the segment (planning starts)."""
    from django.db import transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from broadcast.planning import broadcast_plan_start
    from broadcast.services import BroadcastData, broadcast_create

    with schema_context(SCHEMA), transaction.atomic():
        broadcast = broadcast_create(
            data=BroadcastData(
                name=f"压测群发 {number}",
                audience="segment",
                segment_id=world.segment_id,
                text=SEND_TEXT.replace("{n}", str(number)),
                deadline=timezone.now() + timedelta(minutes=deadline_minutes),
            )
        )
        broadcast_plan_start(broadcast=broadcast)
    return int(broadcast.pk)


def group_send_confirm_if_planned(broadcast_id: int) -> str:
    """The operator confirms a planned send; returns its status. A send that cannot be
    confirmed any more (planned after its deadline) is cancelled, as an operator would."""
    from django_tenants.utils import schema_context

    from broadcast.models import Broadcast
    from broadcast.planning import BroadcastInputError
    from broadcast.services import broadcast_cancel, broadcast_confirm

    with schema_context(SCHEMA):
        broadcast = Broadcast.objects.get(pk=broadcast_id)
        if broadcast.status == Broadcast.Status.READY:
            try:
                broadcast = broadcast_confirm(broadcast=broadcast)
            except BroadcastInputError as exc:
                log(f"group send {broadcast_id} not confirmed ({exc}): cancelled")
                broadcast = broadcast_cancel(broadcast=broadcast)
        return str(broadcast.status)


def handover_start_if_proposed(userid: str) -> int | None:
    """The operator starts the departed guide's proposed handover (evenly among the store's
    guides); returns its id once started."""
    from django_tenants.utils import schema_context

    from handover.models import Handover
    from handover.services import handover_start

    with schema_context(SCHEMA):
        proposal = Handover.objects.filter(
            status=Handover.Status.PROPOSED, from_guides__userid=userid
        ).first()
        if proposal is None:
            return None
        return int(
            handover_start(
                from_guides=list(proposal.from_guides.all()),
                mode=Handover.Mode.EVEN_STORE,
                trigger=proposal.trigger,
                proposal=proposal,
            ).pk
        )


# --- settling --------------------------------------------------------------------------------


class CallbackWatch:
    """How many callbacks WeCom is still sending, read from the sandbox's log a page at a
    time: only from the oldest one pending last time (the log only grows)."""

    def __init__(self, control: Any, corp_id: str) -> None:
        self.control = control
        self.corp_id = corp_id
        self.since = 0

    def pending(self) -> int:
        deliveries = self.control.callbacks(self.corp_id, since_id=self.since)
        pending = [d["id"] for d in deliveries if d["status"] == "pending"]
        if pending:
            self.since = min(pending) - 1
        elif deliveries:
            self.since = max(d["id"] for d in deliveries)
        return len(pending)


def unsettled(watch: CallbackWatch, departed: bool, handover_id: int | None) -> dict[str, int]:
    """What is still moving: callbacks WeCom has not finished sending, events not processed,
    group sends not final, transfer items not final. {} when all is settled."""
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from broadcast.models import Broadcast, Delivery
    from handover.models import TransferItem
    from scrm.wecom.models import CallbackEvent

    moving: dict[str, int] = {}
    pending = watch.pending()
    if pending:
        moving["callbacks being sent"] = pending
    with schema_context(SCHEMA):
        events = dict(
            CallbackEvent.objects.exclude(
                status__in=[CallbackEvent.Status.DONE, CallbackEvent.Status.FAILED]
            )
            .values_list("status")
            .annotate(n=Count("id"))
        )
        for status, n in events.items():
            moving[f"events {status}"] = n
        open_sends = Broadcast.objects.exclude(
            status__in=[Broadcast.Status.DONE, Broadcast.Status.CANCELLED, Broadcast.Status.FAILED]
        ).count()
        if open_sends:
            moving["group sends not final"] = open_sends
        open_deliveries = Delivery.objects.filter(
            status__in=[Delivery.Status.PLANNED, Delivery.Status.WAITING],
            broadcast__status__in=[Broadcast.Status.DISPATCHING, Broadcast.Status.WAITING],
        ).count()
        if open_deliveries:
            moving["deliveries not final"] = open_deliveries
        items = TransferItem.objects.filter(status__in=TransferItem.IN_FLIGHT).count()
        if items:
            moving["transfer items not final"] = items
    if departed and handover_id is None:
        moving["handover not started"] = 1
    return moving


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Plan:
    """When (seconds into the load) each scheduled action happens."""

    sends: list[float]
    depart: float
    redis: float
    postgres: float
    kills: list[tuple[float, str]]
    warm_up: float


def make_plan(args: argparse.Namespace) -> Plan:
    total = args.minutes * 60
    every = args.send_every * 60
    sends = [total * 0.05 + k * every for k in range(int(total // every) + 1)]
    if args.kill_every > 0:
        period = args.kill_every * 60
        kills = [
            (period * k, KILL_ORDER[(k - 1) % len(KILL_ORDER)])
            for k in range(1, int(total // period) + 1)
            if period * k < total - 10
        ]
    else:
        kills = [(total * 0.55, "worker-webhooks")]
    return Plan(
        # A send needs time to be planned, dispatched and sent before the load ends.
        sends=[t for t in sends if t < total - min(300, total / 4)],
        depart=total * 0.4,
        redis=total / 3,
        postgres=total * 2 / 3,
        kills=kills,
        warm_up=min(60.0, total * 0.1),
    )


class Run:
    """The main loop: the schedule, the faults, the operator, memory samples."""

    def __init__(
        self,
        args: argparse.Namespace,
        world: World,
        servers: Servers,
        fleet: Fleet,
        sandbox: Any,
        record: Record,
    ) -> None:
        self.args = args
        self.world = world
        self.servers = servers
        self.fleet = fleet
        self.sandbox = sandbox
        self.control = sandbox.control
        self.watch = CallbackWatch(sandbox.control, world.corp_id)
        self.record = record
        self.plan = make_plan(args)
        self.load = Load(world, args, record)
        self.started = 0.0
        self.pending_sends: list[int] = []
        self.handover_id: int | None = None
        self.next_sample = 0.0
        self.crashes: list[dict[str, Any]] = []

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def set_faults(self) -> None:
        rate = self.args.fault_rate
        self.control.set_faults(
            {
                "*": {
                    "error_rate": rate * 0.6,
                    "errcodes": [-1, 45009],
                    "http_error_rate": rate * 0.4,
                    "http_statuses": [500, 502, 503],
                    "latency_ms": self.args.spike_ms,
                    "latency_rate": self.args.spike_rate,
                }
            }
        )

    def quiet_point(self, what: str) -> None:
        """Smoke only: pause the customers until the platform has caught up (30 s at most)."""
        if not self.args.smoke:
            return
        self.load.pause(True)
        started = time.monotonic()
        while time.monotonic() < started + 30:
            self.tick()
            moving = db_retry(partial(unsettled, self.watch, False, self.handover_id))
            for slow in SLOW_TO_SETTLE:
                moving.pop(slow, None)
            if not moving:
                break
            time.sleep(0.5)
        waited = time.monotonic() - started
        log(f"quiet point before {what} after {waited:.1f} s" + (f": {moving}" if moving else ""))

    def restart_redis(self) -> None:
        self.quiet_point("the Redis restart")
        seconds = self.servers.restart_redis()
        self.record.event(self.elapsed(), "redis restarted", seconds=round(seconds, 2))
        self.load.pause(False)

    def restart_postgres(self) -> None:
        from django.db import connections

        self.quiet_point("the PostgreSQL restart")
        seconds = self.servers.restart_postgres()
        connections.close_all()
        self.record.event(self.elapsed(), "postgresql restarted", seconds=round(seconds, 2))
        self.load.pause(False)

    def kill(self, name: str) -> None:
        self.fleet.kill(name)
        time.sleep(2.0)  # a supervisor's restart delay
        self.fleet.restart(name)
        self.record.event(self.elapsed(), "worker SIGKILLed and restarted", worker=name)

    def depart(self) -> None:
        # Smoke: no add of this guide in flight as they leave (a full run keeps that race).
        self.quiet_point("the departure")
        self.load.pause(False)
        self.control.member_leaves(self.world.corp_id, self.world.leaver)
        self.load.departed = True
        self.record.event(self.elapsed(), "guide left", userid=self.world.leaver)

    def tick(self) -> None:
        """What the main loop does besides the schedule: the operator, the supervisor, the
        memory samples."""
        self.operator()
        self.check_fleet()
        if self.started and self.elapsed() >= self.plan.warm_up:
            self.take_sample()

    def operator(self) -> None:
        """Confirm planned sends; start the handover once proposed."""
        for broadcast_id in list(self.pending_sends):
            status = db_retry(partial(group_send_confirm_if_planned, broadcast_id))
            if status != "planning":
                self.pending_sends.remove(broadcast_id)
                self.record.event(
                    self.elapsed(), "group send confirmed", id=broadcast_id, status=status
                )
        if self.load.departed and self.handover_id is None:
            self.handover_id = db_retry(lambda: handover_start_if_proposed(self.world.leaver))
            if self.handover_id is not None:
                self.record.event(self.elapsed(), "handover started", id=self.handover_id)

    def take_sample(self, force: bool = False) -> None:
        if not force and time.monotonic() < self.next_sample:
            return
        self.next_sample = time.monotonic() + self.args.sample_seconds
        point = sample(self.fleet, self.sandbox.pid, min_age=self.plan.warm_up)
        self.record.samples.append({"at": round(self.elapsed(), 1), **point})

    def schedule(self) -> list[tuple[float, str, Callable[[], None]]]:
        plan = self.plan
        actions: list[tuple[float, str, Callable[[], None]]] = []
        for number, at in enumerate(plan.sends, start=1):
            actions.append((at, f"group send {number}", partial(self.send, number)))
        actions.append((plan.depart, "departure", self.depart))
        actions.append((plan.redis, "redis restart", self.restart_redis))
        actions.append((plan.postgres, "postgresql restart", self.restart_postgres))
        for at, name in plan.kills:
            actions.append((at, f"kill {name}", partial(self.kill, name)))
        return sorted(actions, key=lambda a: a[0])

    def send(self, number: int) -> None:
        broadcast_id = db_retry(
            lambda: group_send_start(self.world, number, self.args.send_deadline)
        )
        self.pending_sends.append(broadcast_id)
        self.record.sends.append(
            {"number": number, "id": broadcast_id, "at": round(self.elapsed(), 1)}
        )
        self.record.event(self.elapsed(), "group send saved", number=number, id=broadcast_id)

    def check_fleet(self) -> None:
        """A process that exited by itself is started again, as a supervisor (systemd,
        a container restart policy) would, and reported."""
        for name, code in self.fleet.exited():
            lines = self.fleet.log_of_incarnation(name).splitlines()
            reason = next(
                (line for line in lines if "CRITICAL" in line), lines[-1] if lines else ""
            )
            self.crashes.append(
                {"process": name, "at": round(self.elapsed(), 1), "exit": code, "log": reason}
            )
            self.record.event(self.elapsed(), "CRASHED, started again", process=name, exit=code)
            self.fleet.restart(name)

    def run_load(self) -> dict[str, Any]:
        total = self.args.minutes * 60
        self.set_faults()
        self.started = time.monotonic()
        self.load.start()
        actions = self.schedule()
        load_at_start = load_average()
        while self.elapsed() < total:
            while actions and actions[0][0] <= self.elapsed():
                _, label, action = actions.pop(0)
                try:
                    action()
                except Exception as exc:
                    self.record.error(label, exc)
                    log(f"{label} failed: {type(exc).__name__}: {exc}")
            self.tick()
            time.sleep(0.5)
        self.take_sample(force=True)
        self.load.stop_customers()
        self.record.event(self.elapsed(), "load stopped")
        return {"load_average_at_start": load_at_start, "load_average_at_end": load_average()}

    def drain(self) -> dict[str, Any]:
        """Until nothing moves any more, or the deadline."""
        started = time.monotonic()
        deadline = started + self.args.drain_minutes * 60
        last_report = 0.0
        moving: dict[str, int] = {"not checked": 1}
        while time.monotonic() < deadline:
            self.operator()
            self.check_fleet()
            moving = db_retry(partial(unsettled, self.watch, self.load.departed, self.handover_id))
            if not moving:
                break
            if time.monotonic() - last_report > 30:
                log(f"draining: {moving}")
                last_report = time.monotonic()
            time.sleep(2.0)
        self.load.stop_people()
        seconds = time.monotonic() - started
        self.record.event(
            self.elapsed(), "drained" if not moving else "drain deadline", left=moving
        )
        return {"seconds": round(seconds, 1), "settled": not moving, "left": moving}


# --- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, help="load duration (30)")
    parser.add_argument("--scan-rate", type=float, help="scans per second (1.0)")
    parser.add_argument("--delete-rate", type=float, help="deletions per second (0.1)")
    parser.add_argument("--send-every", type=float, help="minutes between group sends (5)")
    parser.add_argument("--send-deadline", type=float, help="a group send's deadline, minutes (8)")
    parser.add_argument("--kill-every", type=float, help="minutes between worker kills (4)")
    parser.add_argument("--drain-minutes", type=float, help="drain deadline (20)")
    parser.add_argument("--sample-seconds", type=float, help="seconds between RSS samples (60)")
    parser.add_argument("--guides", type=int, help="guides, in two stores (12)")
    parser.add_argument("--customers", type=int, help="seeded customers (2,000)")
    parser.add_argument("--guide-delay", type=float, help="seconds before a guide sends (20)")
    parser.add_argument(
        "--takeover-delay", type=float, help="seconds before a customer answers a transfer (30)"
    )
    parser.add_argument(
        "--fault-rate", type=float, default=0.05, help="share of API calls failing (0.05)"
    )
    parser.add_argument(
        "--spike-rate", type=float, default=0.02, help="share of API calls delayed (0.02)"
    )
    parser.add_argument("--spike-ms", type=int, default=1500, help="a latency spike (1500 ms)")
    parser.add_argument("--smoke", action="store_true", help="~1.5 minutes, smaller (tests)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (data, logs)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--save", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args()
    for key, value in (SMOKE if args.smoke else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.minutes <= 0 or args.scan_rate <= 0 or args.delete_rate <= 0:
        parser.error("--minutes, --scan-rate and --delete-rate must be above 0")
    return args


def soak(args: argparse.Namespace, servers: Servers, log_dir: Path, stack: Any) -> dict[str, Any]:
    """Set up, load, drain, check; the figures (their "failures" list says what failed)."""
    failures: list[str] = []
    figures: dict[str, Any] = {"failures": failures, "options": vars(args), "cpus": cpu_count()}
    log(f"own PostgreSQL on {servers.pg_port} and Redis on {servers.redis_port} ({log_dir})")
    servers.start_postgres()
    stack.callback(servers.stop)
    servers.start_redis()
    servers.create_database(DB_NAME)
    configure(servers, args.smoke)
    from django.db import connections

    from wecom_sandbox.testing import SandboxProcess

    stack.callback(connections.close_all)
    log("migrating, creating the tenant")
    create_tenant()
    sandbox_log = stack.enter_context(open(log_dir / "sandbox.log", "ab"))  # noqa: SIM115
    sandbox = SandboxProcess.start(stderr=sandbox_log)
    stack.callback(sandbox.stop)
    sandbox.control.timeout = 120
    fleet = Fleet(log_dir, log_dir.parent)
    world = build_world(sandbox, fleet.web_port, args.guides, args.customers)
    log(f"world: {args.guides} guides, {len(world.seeded):,} relations")
    fleet.start()
    stack.callback(fleet.stop)
    record = Record()
    run = Run(args, world, servers, fleet, sandbox, record)
    figures["plan"] = vars(run.plan)
    log(f"load for {args.minutes:g} minutes: {figures['plan']}")
    figures["machine"] = run.run_load()
    figures["sandbox_faults"] = sandbox.control.get_faults()["injected"]
    log("draining")
    figures["drain"] = run.drain()
    run.take_sample(force=True)
    fleet.stop()
    figures["crashes"] = run.crashes
    figures["events"] = record.events
    figures["load_errors"] = dict(record.errors)
    log("checking")
    figures["checks"] = db_retry(
        partial(check_all, sandbox.control, world, record, run.handover_id, failures)
    )
    figures["memory"] = memory_figures(record.samples, args, failures)
    figures["counts"] = {
        "scans": len(record.scans),
        "deletions": len(record.deletions),
        "group_sends": len(record.sends),
        "templates_sent_by_guides": len(record.confirmed),
        "transfers_answered": dict(Counter(record.decided.values())),
        "worker_kills": sum(len(m.kills) for m in fleet.members.values()),
    }
    if not figures["drain"]["settled"]:
        failures.append(f"not settled at the drain deadline: {figures['drain']['left']}")
    return figures


def main() -> int:
    args = parse_args()
    run_dir = ROOT / ".local" / "soak" / f"run-{uuid.uuid4().hex[:8]}"
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True)
    servers = Servers(run_dir)
    keep_logs = True
    try:
        with contextlib.ExitStack() as stack:
            figures = soak(args, servers, log_dir, stack)
        keep_logs = bool(figures["failures"])
    finally:
        # The data always goes (unless --keep); the logs stay when something failed.
        if args.keep:
            log(f"kept {run_dir}")
        elif keep_logs:
            log(f"logs kept in {log_dir}")
            for data in (servers.pg_dir, servers.redis_dir):
                shutil.rmtree(data, ignore_errors=True)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    figures["run_seconds"] = round(time.monotonic() - STARTED, 1)
    if args.save:
        args.save.write_text(json.dumps(figures, default=str, ensure_ascii=False, indent=1))
    if args.json:
        print(json.dumps(figures, default=str))
    else:
        print_report(figures)
    for failure in figures["failures"]:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
