"""Benchmark: add-to-welcome latency of channel scans through the running web, workers and
WeCom sandbox, against the sandbox's welcome endpoint alone.

    .venv/bin/python bench/welcome.py           # 50 scans/s for 120 s, then 200/s for 30 s
    .venv/bin/python bench/welcome.py --smoke   # 10/s for 5 s, then 20/s for 3 s (tests)
    .venv/bin/python bench/welcome.py --json    # one JSON object of all figures, last line

Builds a fresh database with one tenant connected to a corp of a fresh WeCom sandbox: guides
in a store, a channel tag, and a channel made by `channel_create` (a multi-person contact
way; a welcome text with the nickname and guide-name placeholders; the tag to apply).
Starts gunicorn (the callback URL the sandbox calls), a Celery worker on the `high` queue
(callback processing: welcome first, then the contact book, attribution, auto-tags) and one
on `default,bulk`. Then the sandbox fires scans at the channel's way from its own thread
(`POST /sandbox/corps/{corp}/scan_load`), the steady phase and the burst back to back, and
the benchmark waits until every add was processed. Per phase, from the sandbox's own
timestamps: callback sent (start of the first delivery attempt) to welcome received,
p50 / p95 / p99; the share of scans welcomed within 20 s of the callback; adds processed
(relations attributed to the channel) per second.

The floor, in the same run: a second sandbox corp whose callbacks go to a bare receiver
(one process, threads: verify and decrypt with wechatpy, call send_welcome_msg, answer
200; no web, no queue, no database), scanned at the same rates, timed the same way.

Exits 1 if any customer received two welcomes, any welcome code was used twice, or any add
was lost (a scan without its relation attributed to the channel or without a welcome log).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callbacks import admin_sql, free_port, services_env, wait_for, with_path  # noqa: E402
from bench.commands import celery_worker_command, gunicorn_command  # noqa: E402

SCHEMA = "bench"
HOST = "bench.localhost"
REDIS_DB = 5  # the demo 0, segments 6, contacts_sync 7, callbacks 8, test slots 9-14
WINDOW_SECONDS = 20  # WeCom's welcome window
WELCOME_TEXT = "{客户昵称}，你好！我是{导购姓名}，感谢关注包裹卡，回复“1”领取新人券。"
# What the floor sends: the same text as the platform renders it for a new customer.
FLOOR_TEXT = "你好！我是导购001，感谢关注包裹卡，回复“1”领取新人券。"
FLOOR_TOKEN = "benchFloorToken"  # noqa: S105 - a throwaway sandbox corp
FLOOR_AES_KEY = "B" * 43
FLOOR_SECRET = "bench-floor-secret"  # noqa: S105
WARM_UP_SCANS_PER_PROCESS = 2


def log(message: str) -> None:
    print(f"[welcome] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --- environment, tenant, channel ----------------------------------------------------------


def configure(base: dict[str, str], db_name: str) -> None:
    """Point this process (and the web and workers it starts) at the bench database and
    Redis database REDIS_DB."""
    os.environ.update({k: v for k, v in base.items() if k != "DJANGO_SETTINGS_MODULE"})
    redis_url = with_path(base["REDIS_URL"], f"/{REDIS_DB}")
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
    """Queued tasks, tokens and limiter windows of this run: the database is ours."""
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


def create_tenant() -> Any:
    from django.core.management import call_command

    from tenants.models import Domain, Tenant
    from tenants.services import tenant_create

    with contextlib.redirect_stdout(sys.stderr):
        call_command("migrate_schemas", verbosity=0)
        public = Tenant(schema_name="public", name="Platform")
        public.save()
        Domain.objects.create(domain="localhost", tenant=public, is_primary=True)
        return tenant_create(name="Bench welcome", schema_name=SCHEMA, domain=HOST)


def guide_userids(count: int) -> list[str]:
    return [f"guide{index:03d}" for index in range(1, count + 1)]


def build_channel(sandbox: Any, tenant: Any, corp_id: str, guides: int, web_port: int) -> Any:
    """The corp connected with its callback URL on gunicorn, guides in a store, a channel
    tag and the channel (its contact way created in the sandbox by channel_create)."""
    from django_tenants.utils import schema_context

    from channels_qr.models import Channel
    from channels_qr.services import ChannelData, GuideEntry, channel_create
    from contacts.models import Guide, Store
    from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
    from tagging.services import tags_add

    control = sandbox.control
    with schema_context("public"):
        corp = connect_to_sandbox(sandbox, tenant, corp_id)
        app = corp.apps.get(kind="customer_contact")
    control.set_callback(
        corp_id,
        "customer_contact",
        f"http://127.0.0.1:{web_port}/wecom/callback/{corp_id}/customer_contact/",
        token=app.callback_token,
        encoding_aes_key=app.encoding_aes_key,
    )
    control.add_department(corp_id, "静安店", id=2)
    with schema_context(SCHEMA):
        store = Store.objects.create(department_id=2, name="静安店")
        entries = []
        for userid in guide_userids(guides):
            name = f"导购{userid[-3:]}"
            control.add_member(corp_id, userid, name=name, department=[2], notify=False)
            guide = Guide.objects.create(userid=userid, name=name, store=store)
            entries.append(GuideEntry(guide.pk))
        [tag] = tags_add(group_name="渠道来源", names=["包裹卡"], actor=None)
        return channel_create(
            data=ChannelData(
                name="包裹卡压测",
                strategy=Channel.Strategy.SEVERAL,
                guides=entries,
                tag_ids=[tag.tag_id],
                welcome_text=WELCOME_TEXT,
            ),
            actor=None,
        )


# --- processes ---------------------------------------------------------------------------


class Processes:
    """gunicorn and the two Celery workers, their output in log files."""

    def __init__(self, web_workers: int, high_workers: int, log_dir: str) -> None:
        self.log_dir = log_dir
        self.web_port = free_port()
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.web_workers = web_workers
        self.high_workers = high_workers

    def _spawn(self, name: str, command: list[str]) -> None:
        with open(Path(self.log_dir) / f"{name}.log", "wb") as output:
            process = subprocess.Popen(
                command, cwd=ROOT, env=dict(os.environ), stdout=output, stderr=subprocess.STDOUT
            )
        self.started.append((name, process))

    def start(self) -> None:
        self._spawn("web", gunicorn_command(self.web_port, self.web_workers))
        suffix = uuid.uuid4().hex[:6]
        for name, queues, concurrency in (
            ("worker-high", "high", self.high_workers),
            ("worker-default", "default,bulk", 1),
        ):
            self._spawn(name, celery_worker_command(queues, concurrency, f"{name}-{suffix}"))
        wait_for(self.web_port)

    def check_alive(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {self.tail(name)}")

    def tail(self, name: str) -> str:
        path = Path(self.log_dir) / f"{name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        for _, process in self.started:
            if process.poll() is None:
                process.terminate()
        for _, process in self.started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


# --- the platform's side -------------------------------------------------------------------


def adds_done() -> tuple[int, int]:
    """(add events finished, done or failed; add events not finished yet)."""
    from django_tenants.utils import schema_context

    from scrm.wecom.models import CallbackEvent

    with schema_context(SCHEMA):
        counts = Counter(
            CallbackEvent.objects.filter(change_type="add_external_contact").values_list(
                "status", flat=True
            )
        )
    finished = counts[CallbackEvent.Status.DONE] + counts[CallbackEvent.Status.FAILED]
    return finished, sum(counts.values()) - finished


def wait_for_adds(expected: int, stall_seconds: float, processes: Processes) -> dict[str, Any]:
    """Until `expected` add events are done or failed, or nothing moved for
    `stall_seconds`."""
    started = time.monotonic()
    last_change, last = started, (-1, -1)
    while True:
        processes.check_alive()
        current = adds_done()
        if current[0] >= expected and current[1] == 0:
            break
        now = time.monotonic()
        if current != last:
            last, last_change = current, now
        elif now - last_change > stall_seconds:
            log(f"drain: no progress for {stall_seconds:.0f} s at {current[0]}/{expected}")
            break
        time.sleep(1.0)
    return {"finished": current[0], "unfinished": current[1], "expected": expected}


def platform_outcomes(external_userids: list[str], channel_id: int) -> dict[str, dict[str, Any]]:
    """Per customer: the add event, its welcome log, and whether the relation was
    attributed to the channel."""
    from django_tenants.utils import schema_context

    from channels_qr.models import WelcomeLog
    from contacts.models import Relation
    from scrm.wecom.models import CallbackEvent

    wanted = set(external_userids)
    found: dict[str, dict[str, Any]] = {
        e: {"events": 0, "welcome_logs": [], "attributed": False} for e in wanted
    }
    with schema_context(SCHEMA):
        events = CallbackEvent.objects.filter(change_type="add_external_contact").values_list(
            "payload__ExternalUserID", "status", "processed_at", "attempts"
        )
        for external_userid, status, processed_at, attempts in events.iterator():
            if external_userid in wanted:
                row = found[external_userid]
                row["events"] += 1
                row["status"] = status
                row["processed_at"] = processed_at.timestamp() if processed_at else None
                row["attempts"] = attempts
        logs = WelcomeLog.objects.values_list("external_userid", "outcome", "done_at")
        for external_userid, outcome, done_at in logs.iterator():
            if external_userid in wanted:
                found[external_userid]["welcome_logs"].append((outcome, done_at.timestamp()))
        attributed = Relation.objects.filter(channel_id=channel_id).values_list(
            "customer__external_userid", flat=True
        )
        for external_userid in attributed.iterator():
            if external_userid in wanted:
                found[external_userid]["attributed"] = True
    return found


# --- the floor: the sandbox's welcome endpoint behind a bare receiver ---------------------


def floor_receiver(port: int, corp_id: str, api_base_url: str, ready: Any) -> None:
    """Runs in its own process: answer each callback by sending its welcome at once."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qsl, urlsplit

    import requests
    import xmltodict
    from wechatpy.enterprise.crypto import WeChatCrypto

    crypto = WeChatCrypto(FLOOR_TOKEN, FLOOR_AES_KEY, corp_id)
    token = requests.get(
        api_base_url + "gettoken",
        params={"corpid": corp_id, "corpsecret": FLOOR_SECRET},
        timeout=10,
    ).json()["access_token"]
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            query = dict(parse_qsl(urlsplit(self.path).query))
            status = 200
            try:
                plaintext = crypto.decrypt_message(
                    body, query["msg_signature"], query["timestamp"], query["nonce"]
                )
                event = xmltodict.parse(plaintext)["xml"]
                if event.get("WelcomeCode"):
                    session = getattr(local, "session", None) or requests.Session()
                    local.session = session
                    session.post(
                        api_base_url + "externalcontact/send_welcome_msg",
                        params={"access_token": token},
                        json={
                            "welcome_code": event["WelcomeCode"],
                            "text": {"content": FLOOR_TEXT},
                        },
                        timeout=10,
                    )
            except Exception:  # answer anyway; the sandbox's report shows the missing welcome
                status = 500
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 512
    ready.set()
    server.serve_forever()


def build_floor(sandbox: Any, corp_id: str, guides: int, port: int) -> str:
    """A corp like the bench's, calling back the floor receiver; returns its way's id."""
    from wecom_sandbox.testing import wechatpy_client

    control = sandbox.control
    control.create_corp(
        corp_id,
        apps=[
            {
                "name": "customer_contact",
                "agent_id": 1000002,
                "secret": FLOOR_SECRET,
                "token": FLOOR_TOKEN,
                "encoding_aes_key": FLOOR_AES_KEY,
                "callback_url": f"http://127.0.0.1:{port}/floor/",
            }
        ],
    )
    control.add_department(corp_id, "静安店", id=2)
    for userid in guide_userids(guides):
        control.add_member(corp_id, userid, name=userid, department=[2], notify=False)
    client = wechatpy_client(sandbox.api_base_url, corp_id, FLOOR_SECRET, timeout=10)
    way = client.external_contact.add_contact_way(
        type=2, scene=2, state="floor", user=guide_userids(guides)
    )
    return str(way["config_id"])


# --- firing and figures --------------------------------------------------------------------


def fire(
    label: str, control: Any, corp_id: str, config_id: str, phases: list[dict[str, Any]]
) -> None:
    """Fire the phases back to back; each phase gets its load's status and `load_id`."""
    for phase in phases:
        started = control.scan_load(
            corp_id,
            config_id,
            rate=phase["rate"],
            seconds=phase["seconds"],
            name_prefix=f"{phase['name']}客户",
        )
        phase["load_id"] = started["load_id"]
        log(
            f"{label} {phase['name']}: firing {started['planned']:,} scans "
            f"({phase['rate']:g}/s for {phase['seconds']:g} s)"
        )
        while True:
            status = control.scan_load_status(corp_id, started["load_id"])
            if status["status"] != "running":
                break
            time.sleep(1.0)
        phase["load"] = status
        log(
            f"{label} {phase['name']}: fired {status['fired']:,} in "
            f"{(status['finished_at'] or 0) - status['started_at']:.1f} s "
            f"(latest scan {status['max_lag_ms']:.0f} ms behind schedule)"
        )


def spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {
        "p50": round(percentile(values, 0.50), 3),
        "p95": round(percentile(values, 0.95), 3),
        "p99": round(percentile(values, 0.99), 3),
        "max": round(max(values), 3),
    }


def sandbox_figures(phase: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the sandbox saw of one phase: callbacks, welcomes, latency, duplicates."""
    fired = len(rows)
    first = min((r["fired_at"] for r in rows), default=0.0)
    last = max((r["fired_at"] for r in rows), default=0.0)
    latencies = [
        r["welcome_at"] - r["callback_sent_at"]
        for r in rows
        if r["welcome_at"] is not None and r["callback_sent_at"] is not None
    ]
    from_scan = [r["welcome_at"] - r["fired_at"] for r in rows if r["welcome_at"] is not None]
    acks = [
        (r["callback_acked_at"] - r["callback_sent_at"]) * 1000
        for r in rows
        if r["callback_acked_at"] is not None and r["callback_sent_at"] is not None
    ]
    dispatch = [
        (r["callback_sent_at"] - r["fired_at"]) * 1000
        for r in rows
        if r["callback_sent_at"] is not None
    ]
    statuses = Counter(r["callback_status"] for r in rows)
    welcomed = [r for r in rows if r["welcomes"] >= 1]
    return {
        "rate": phase["rate"],
        "seconds": phase["seconds"],
        "planned": phase["load"]["planned"],
        "fired": fired,
        "fire_errors": phase["load"]["error_count"],
        "fire_seconds": round(last - first, 2),
        "fire_max_lag_ms": phase["load"]["max_lag_ms"],
        "callbacks": dict(statuses),
        "callbacks_retried": sum(1 for r in rows if r["callback_attempts"] > 1),
        "callback_dispatch_ms": spread(dispatch),
        "callback_ack_ms": spread(acks),
        "welcomes_received": len(welcomed),
        "duplicates": sum(1 for r in rows if r["welcomes"] > 1),
        "codes_used_twice": sum(1 for r in rows if r["welcome_calls"] > 1),
        "latency_seconds": spread(latencies),
        "scan_to_welcome_seconds": spread(from_scan),
        "within_20s": sum(1 for v in latencies if v <= WINDOW_SECONDS),
        "share_within_20s": round(
            sum(1 for v in latencies if v <= WINDOW_SECONDS) / fired if fired else 0.0, 4
        ),
        "welcomes_per_second": round(
            len(welcomed) / (max(r["welcome_at"] for r in welcomed) - first), 1
        )
        if welcomed
        else 0.0,
    }


def phase_figures(
    phase: dict[str, Any], rows: list[dict[str, Any]], outcomes: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    figures = sandbox_figures(phase, rows)
    first = min((r["fired_at"] for r in rows), default=0.0)
    mine = [outcomes[r["external_userid"]] for r in rows]
    attributed = [o for o in mine if o["attributed"]]
    processed_at = [o["processed_at"] for o in attributed if o.get("processed_at")]
    welcome_outcomes = Counter(log[0] for o in mine for log in o["welcome_logs"])
    # When the platform was done with the welcome (sent, or found expired): the queue's
    # delay shows here even for welcomes that never arrived.
    handled = [
        o["welcome_logs"][0][1] - r["callback_sent_at"]
        for r, o in zip(rows, mine, strict=True)
        if o["welcome_logs"] and r["callback_sent_at"] is not None
    ]
    lost = [
        r["external_userid"]
        for r, o in zip(rows, mine, strict=True)
        if not o["attributed"] or not o["welcome_logs"]
    ]
    figures.update(
        events_stored=sum(o["events"] for o in mine),
        events_failed=sum(1 for o in mine if o.get("status") == "failed"),
        events_retried=sum(1 for o in mine if (o.get("attempts") or 0) > 1),
        adds_processed=len(attributed),
        adds_per_second=round(len(attributed) / (max(processed_at) - first), 1)
        if processed_at
        else 0.0,
        welcome_logs=dict(welcome_outcomes),
        welcome_handled_seconds=spread(handled),
        welcome_logs_twice=sum(1 for o in mine if len(o["welcome_logs"]) > 1),
        lost=len(lost),
        lost_examples=lost[:5],
    )
    return figures


def scan_rows(control: Any, corp_id: str, load_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = control.scan_load_status(corp_id, load_id, rows=True)["scans"]
    return rows


def wait_for_floor(control: Any, corp_id: str, phases: list[dict[str, Any]]) -> None:
    """Until every floor callback was delivered or given up (at most 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = [r for p in phases for r in scan_rows(control, corp_id, p["load_id"])]
        if all(r["callback_status"] not in (None, "pending") for r in rows):
            return
        time.sleep(1.0)


# --- report --------------------------------------------------------------------------------


def ms_text(seconds: dict[str, float | None], keys: tuple[str, ...] = ("p50", "p95", "p99")) -> str:
    if seconds["p50"] is None:
        return "-"
    return " / ".join(f"{(seconds[k] or 0) * 1000:,.0f}" for k in keys) + " ms"


def print_report(figures: dict[str, Any]) -> None:
    setup = figures["setup"]
    out = [
        f"setup: {setup['guides']} guides on one multi-person way; gunicorn "
        f"{setup['web_workers']} workers; Celery `high` {setup['high_workers']} processes "
        f"(prefork), `default,bulk` {setup['default_bulk_workers']}; sandbox one process, "
        f"{setup['sandbox_callback_threads']} callback threads; {setup['cpus']} CPUs"
    ]
    for title, key in (("platform", "phases"), ("floor (sandbox welcome endpoint alone)", "floor")):
        out.append(f"{title}:")
        for name, phase in figures[key].items():
            out.append(
                f"  {name}: {phase['fired']:,}/{phase['planned']:,} scans fired at "
                f"{phase['rate']:g}/s in {phase['fire_seconds']} s (latest "
                f"{phase['fire_max_lag_ms']:.0f} ms late); callbacks {phase['callbacks']}"
                f", {phase['callbacks_retried']} re-sent; ack p50/p99 "
                f"{phase['callback_ack_ms']['p50']} / {phase['callback_ack_ms']['p99']} ms"
            )
            line = (
                f"    welcomes received {phase['welcomes_received']:,}, duplicates "
                f"{phase['duplicates']}, codes used twice {phase['codes_used_twice']}"
            )
            if "adds_processed" in phase:
                line += (
                    f"; adds processed {phase['adds_processed']:,} "
                    f"({phase['adds_per_second']}/s), lost {phase['lost']}"
                )
            out.append(line)
            if "welcome_logs" in phase:
                out.append(
                    f"    welcome logs {phase['welcome_logs']}, written p50/p99 "
                    f"{ms_text(phase['welcome_handled_seconds'], ('p50', 'p99'))} after the "
                    "callback was sent"
                )
            out.append(
                f"    callback sent -> welcome received p50/p95/p99: "
                f"{ms_text(phase['latency_seconds'])} (max "
                f"{ms_text(phase['latency_seconds'], ('max',))}); within 20 s: "
                f"{phase['share_within_20s']:.2%}; scan -> welcome p50/p99 "
                f"{ms_text(phase['scan_to_welcome_seconds'], ('p50', 'p99'))}"
            )
    drain = figures["drain"]
    out.append(
        f"drain: {drain['finished']:,}/{drain['expected']:,} add events finished "
        f"{drain['seconds']} s after the last scan"
    )
    print("\n".join(out))


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=50, help="steady scans per second")
    parser.add_argument("--seconds", type=float, default=120, help="steady phase length")
    parser.add_argument("--burst-rate", type=float, default=200, help="burst scans per second")
    parser.add_argument("--burst-seconds", type=float, default=30, help="burst length")
    parser.add_argument(
        "--floor-seconds",
        type=float,
        default=30,
        help="each floor phase lasts at most this long (same rates)",
    )
    parser.add_argument("--workers", type=int, default=4, help="Celery processes on `high`")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--guides", type=int, default=20, help="guides on the channel's way")
    parser.add_argument("--callback-threads", type=int, default=16, help="sandbox senders")
    parser.add_argument(
        "--drain-stall", type=float, default=180, help="give up after this long without progress"
    )
    parser.add_argument("--smoke", action="store_true", help="10/s for 5 s, then 20/s for 3 s")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.rate, args.seconds, args.burst_rate, args.burst_seconds = 10, 5, 20, 3
        args.guides, args.drain_stall = 5, 60

    base = services_env()
    db_name = f"scrm_bench_welcome_{uuid.uuid4().hex[:8]}"
    admin_sql(base["DATABASE_URL"], f'CREATE DATABASE "{db_name}"')
    failures: list[str] = []
    figures: dict[str, Any] = {"failures": failures}
    sandbox = None
    processes = None
    floor_process = None
    log_dir = tempfile.mkdtemp(prefix="bench-welcome-")
    try:
        configure(base, db_name)
        flush_redis()
        from django_tenants.utils import schema_context

        from wecom_sandbox.testing import SandboxProcess

        log(f"database {db_name}: migrating")
        tenant = create_tenant()
        sandbox = SandboxProcess.start(
            extra_args=["--callback-workers", str(args.callback_threads)]
        )
        control = sandbox.control
        processes = Processes(args.web_workers, args.workers, log_dir)
        corp_id = f"wwbench{uuid.uuid4().hex[:11]}"
        channel = build_channel(sandbox, tenant, corp_id, args.guides, processes.web_port)
        with schema_context(SCHEMA):
            config_id = channel.live_codes.get().config_id
        figures["setup"] = {
            "guides": args.guides,
            "web_workers": args.web_workers,
            "high_workers": args.workers,
            "default_bulk_workers": 1,
            "sandbox_callback_threads": args.callback_threads,
            "cpus": os.cpu_count(),
            "channel_welcome_text": WELCOME_TEXT,
        }
        log(f"starting gunicorn and the Celery workers (logs in {log_dir})")
        processes.start()

        # Warm up: tokens, connections, imports in every process on the path.
        warm_up = WARM_UP_SCANS_PER_PROCESS * (args.workers + args.web_workers)
        for index in range(warm_up):
            control.scan(corp_id, config_id, name=f"预热{index}")
        warm = wait_for_adds(warm_up, 120, processes)
        if warm["finished"] < warm_up:
            raise RuntimeError(
                f"warm-up adds not processed: {warm}\n{processes.tail('worker-high')}"
            )

        # The floor first, while the web and workers are idle.
        floor_port = free_port()
        floor_corp = f"wwfloor{uuid.uuid4().hex[:11]}"
        spawn = multiprocessing.get_context("spawn")
        ready = spawn.Event()
        floor_config = build_floor(sandbox, floor_corp, args.guides, floor_port)
        floor_process = spawn.Process(
            target=floor_receiver,
            args=(floor_port, floor_corp, sandbox.api_base_url, ready),
            daemon=True,
        )
        floor_process.start()
        if not ready.wait(30):
            raise RuntimeError("the floor receiver did not start")
        floor_phases = [
            {"name": "steady", "rate": args.rate, "seconds": min(args.seconds, args.floor_seconds)},
            {
                "name": "burst",
                "rate": args.burst_rate,
                "seconds": min(args.burst_seconds, args.floor_seconds),
            },
        ]
        fire("floor", control, floor_corp, floor_config, floor_phases)
        wait_for_floor(control, floor_corp, floor_phases)
        figures["floor"] = {
            p["name"]: sandbox_figures(p, scan_rows(control, floor_corp, p["load_id"]))
            for p in floor_phases
        }
        floor_process.terminate()
        floor_process.join(10)
        floor_process = None

        # The platform: steady, then the burst straight after.
        phases = [
            {"name": "steady", "rate": args.rate, "seconds": args.seconds},
            {"name": "burst", "rate": args.burst_rate, "seconds": args.burst_seconds},
        ]
        fire("platform", control, corp_id, config_id, phases)
        fired_all = time.monotonic()
        expected = warm_up + sum(p["load"]["fired"] for p in phases)
        log(f"waiting for {expected:,} add events to finish")
        drain = wait_for_adds(expected, args.drain_stall, processes)
        drain["seconds"] = round(time.monotonic() - fired_all, 1)
        figures["drain"] = drain
        # Attribution and tags come after the welcome; let the sandbox's last callbacks
        # and the workers' last writes settle before reading.
        time.sleep(1.0)
        rows = {p["name"]: scan_rows(control, corp_id, p["load_id"]) for p in phases}
        outcomes = platform_outcomes(
            [r["external_userid"] for phase_rows in rows.values() for r in phase_rows],
            channel.pk,
        )
        figures["phases"] = {p["name"]: phase_figures(p, rows[p["name"]], outcomes) for p in phases}
        # The process logs are kept only when something went wrong, or with --keep-db.
        if not args.keep_db:
            shutil.rmtree(log_dir, ignore_errors=True)
    finally:
        if floor_process is not None:
            floor_process.terminate()
        if processes is not None:
            processes.stop()
        if sandbox is not None:
            sandbox.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with contextlib.suppress(Exception):
            flush_redis()
        if args.keep_db:
            log(f"kept database {db_name}")
        else:
            admin_sql(base["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    for name, phase in figures["phases"].items():
        if phase["fired"] != phase["planned"] or phase["fire_errors"]:
            failures.append(
                f"{name}: the sandbox fired {phase['fired']} of {phase['planned']} scans "
                f"({phase['fire_errors']} errors)"
            )
        if phase["duplicates"]:
            failures.append(f"{name}: {phase['duplicates']} customers received two welcomes")
        if phase["codes_used_twice"]:
            failures.append(f"{name}: {phase['codes_used_twice']} welcome codes sent twice")
        if phase["welcome_logs_twice"]:
            failures.append(f"{name}: {phase['welcome_logs_twice']} adds with two welcome logs")
        if phase["lost"]:
            failures.append(
                f"{name}: {phase['lost']} adds lost (no attributed relation or no welcome "
                f"log), e.g. {phase['lost_examples']}"
            )
    if args.json:
        print(json.dumps(figures, default=str))
    else:
        print_report(figures)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
