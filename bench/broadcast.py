"""Benchmark: a group send to a million customers, planned, dispatched by Celery workers
under a rate limit, delivered in the WeCom sandbox exactly once each.

    .venv/bin/python bench/broadcast.py           # 5,000 guides, 1,000,000 customers
    .venv/bin/python bench/broadcast.py --smoke   # 20 guides, 2,000 customers (tests)
    .venv/bin/python bench/broadcast.py --json    # one JSON object of all figures, last line

Builds a fresh database with one tenant connected to a corp of a fresh WeCom sandbox. The
sandbox is seeded with the guides (in stores of 100) and the customers, 1 % of them held by
two guides; the database gets the same guides, customers and relations (ids read from the
sandbox's snapshot, written with COPY: a contacts sync of a million relations is measured
by bench/contacts_sync.py, not here), and a saved segment of everyone. Then (issue #8):

1. planning: `broadcast_plan` of a group send to the segment, in this process (one
   INSERT ... SELECT): seconds and deliveries/s; the ceiling in the same run is COPY of the
   same delivery rows into a scratch copy of broadcast_delivery (same indexes; once more
   with its foreign keys);
2. dispatch: `broadcast_confirm`, then `broadcast_dispatch_task` run by real Celery worker
   processes (queue `bulk`) against a corp rate limit set on the corp (`--limit` calls per
   `--window` seconds for each WeCom API, WeComCorp.rate_limits): templates created per
   second, against the limit the client's limiter applies to add_msg_template (sustained
   rate, and the least time its windows allow for this many calls); the workers' peak RSS
   (VmHWM of every worker process);
3. correctness: every template the sandbox holds for the corp is confirmed (its guide
   sends it), then the sandbox's log of who received which group message is read in bulk
   and compared with the plan. Exit 1 on a customer who received it twice, a planned
   customer who did not receive it (lost), a customer of the segment without a delivery,
   a template the sandbox holds that no chunk recorded (created twice), or a chunk whose
   template is missing or has other recipients.

Its Celery messages, tokens and limiter windows live in Redis database REDIS_DB, emptied at
the start and the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callbacks import admin_sql, services_env, with_path  # noqa: E402
from bench.commands import celery_worker_command  # noqa: E402
from bench.contacts_sync import (  # noqa: E402
    SCHEMA,
    create_tenant,
    database_size,
    limiter_schedule,
    number,
    secondary_indexes,
    stopwatch,
)

# The demo 0, welcome 5, segments 6, contacts_sync 7, callbacks 8, test slots 9-14; 3 is
# this benchmark's (bench/handover.py takes 2).
REDIS_DB = 3
TEMPLATE_API = "externalcontact/add_msg_template"
TEXT = "{guide_name} 为您准备了周末上新，回复 1 预约试穿"
GUIDES_PER_STORE = 100
DOUBLE_SHARE = 0.01  # customers held by two guides
STATES = ["poster", "", "parcel", "store_qr"]
SMOKE = {"guides": 20, "customers": 2000, "limit": 10, "window": 2}
POLL_SECONDS = 0.5
TICK_SECONDS = 60  # beat's broadcast-tick
TABLES = ("contacts_store", "contacts_guide", "contacts_customer", "contacts_relation")


def log(message: str) -> None:
    print(f"[broadcast] {message}", file=sys.stderr, flush=True)


# --- environment ---------------------------------------------------------------------------


def configure(base: dict[str, str], db_name: str) -> None:
    """Point this process (and the workers it starts) at the bench database and at Redis
    database REDIS_DB."""
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
    with contextlib.suppress(Exception):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


# --- the same contact book in the sandbox and in the database ------------------------------


def seed_sandbox(control: Any, corp_id: str, guides: int, customers: int) -> dict[str, Any]:
    """Guides in stores of GUIDES_PER_STORE; customers round-robin over the guides, 1 % of
    them held by two (neighbouring) guides."""
    doubles = int(customers * DOUBLE_SHARE)
    stores = max(1, guides // GUIDES_PER_STORE)
    control.seed(
        corp_id,
        members=guides,
        departments=stores,
        customers=customers - doubles,
        follows_per_customer=1,
        states=STATES,
        random_seed=5,
    )
    if doubles:
        control.seed(corp_id, customers=doubles, follows_per_customer=2, random_seed=6)
    return {
        "guides": guides,
        "stores": stores,
        "customers": customers,
        "customers_with_two_guides": doubles,
        "relations": customers + doubles,
    }


def _text(value: Any) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


def _array(values: list[Any]) -> str:
    return "{" + ",".join('"' + str(v).replace('"', '\\"') + '"' for v in values) + "}"


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def _copy(cursor: Any, table: str, columns: str, rows: list[list[Any]]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_text(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def load_database(control: Any, corp_id: str) -> dict[str, Any]:
    """The sandbox's stores, guides, customers and relations into the tenant's tables with
    COPY, read from its snapshot a page at a time (secondary indexes dropped while loading,
    rebuilt after)."""
    from django.db import connection

    now = _stamp(int(time.time()))
    reading = [0.0]

    def snapshot(offset: int) -> dict[str, Any]:
        with stopwatch() as elapsed:
            page: dict[str, Any] = control.snapshot(corp_id, offset=offset)
        reading[0] += elapsed[0]
        return page

    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        cursor.execute("SET maintenance_work_mem = '1GB'")
        # Rows copied from the sandbox are consistent by construction: skip the FK triggers.
        cursor.execute("SET session_replication_role = replica")
        dropped = secondary_indexes(cursor, ["contacts_customer", "contacts_relation"])
        for table, name, _definition in dropped:
            if name.startswith("CONSTRAINT "):
                cursor.execute(f"ALTER TABLE {table} DROP {name}")
            else:
                cursor.execute(f"DROP INDEX {name}")
        with stopwatch() as load_time:
            first = page = snapshot(0)
            _copy(
                cursor,
                "contacts_store",
                'id, department_id, name, parent_department_id, "order", synced_at',
                [
                    [d["id"], d["id"], d["name"], d["parentid"] or None, 0, now]
                    for d in first["departments"]
                ],
            )
            guide_ids: dict[str, int] = {}
            guide_rows = []
            for pk, member in enumerate(first["members"], start=1):
                guide_ids[member["userid"]] = pk
                store = member["department"][0] if member["department"] else 1
                guide_rows.append(
                    [
                        pk,
                        member["userid"],
                        member["name"],
                        "",
                        store,
                        _array(member["department"]),
                        "active",
                        None,
                        "t",
                        now,
                        now,
                    ]
                )
            _copy(
                cursor,
                "contacts_guide",
                "id, userid, name, position, store_id, department_ids, status, departed_at, "
                "customer_contact, created_at, synced_at",
                guide_rows,
            )
            customer_ids = {row[0]: pk for pk, row in enumerate(first["customers"], start=1)}
            last_added: dict[str, int] = {}
            relations = 0
            while True:
                rows = []
                for (
                    userid,
                    external_userid,
                    remark,
                    description,
                    mobiles,
                    way,
                    state,
                    added,
                    tags,
                ) in page["relations"]:
                    added_at = _stamp(added)
                    last_added[external_userid] = max(added, last_added.get(external_userid, 0))
                    rows.append(
                        [
                            guide_ids[userid],
                            customer_ids[external_userid],
                            remark,
                            description,
                            "",
                            _array(mobiles),
                            way,
                            state,
                            "",
                            _array(tags),
                            added_at,
                            "active",
                            added_at,
                            None,
                            now,
                            now,
                        ]
                    )
                _copy(
                    cursor,
                    "contacts_relation",
                    "guide_id, customer_id, remark, description, remark_corp_name, "
                    "remark_mobiles, add_way, state, oper_userid, wecom_tag_ids, added_at, "
                    "status, status_changed_at, deleted_at, confirmed_at, updated_at",
                    rows,
                )
                relations += len(rows)
                if not rows or relations >= page["relations_total"]:
                    break
                page = snapshot(relations)
            _copy(
                cursor,
                "contacts_customer",
                "id, external_userid, name, avatar, type, gender, unionid, corp_name, position, "
                "last_added_at, created_at, updated_at",
                [
                    [
                        customer_ids[c[0]],
                        c[0],
                        c[1],
                        "",
                        c[2],
                        c[3],
                        c[4],
                        "",
                        "",
                        _stamp(last_added.get(c[0], 0)),
                        now,
                        now,
                    ]
                    for c in first["customers"]
                ],
            )
        with stopwatch() as index_time:
            for table, name, definition in dropped:
                if name.startswith("CONSTRAINT "):
                    cursor.execute(f"ALTER TABLE {table} ADD {name} {definition}")
                else:
                    cursor.execute(definition)
            for table in TABLES[:3]:
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                cursor.execute(f"SELECT setval({sequence}, max(id)) FROM {table}")  # noqa: S608
            cursor.execute("SET session_replication_role = DEFAULT")
        with stopwatch() as vacuum_time:
            for table in TABLES:
                cursor.execute(f"VACUUM (ANALYZE) {table}")
    return {
        "guides_in_db": len(guide_ids),
        "customers_in_db": len(customer_ids),
        "relations_in_db": relations,
        "snapshot_read_seconds": round(reading[0], 1),
        "copy_seconds": round(load_time[0] - reading[0], 1),
        "index_seconds": round(index_time[0], 1),
        "vacuum_analyze_seconds": round(vacuum_time[0], 1),
    }


def everyone() -> Any:
    from tagging.segments import segment_save

    return segment_save(
        segment=None, actor=None, name="全部客户", definition={"op": "and", "rules": []}
    )


# --- planning and its ceiling --------------------------------------------------------------


@contextlib.contextmanager
def plan_timer() -> Iterator[dict[str, float]]:
    """Time the statements of broadcast_plan by wrapping them."""
    from broadcast import planning

    spent: dict[str, float] = {}
    names = ("_insert_customer_deliveries", "broadcast_counts")
    originals = {name: getattr(planning, name) for name in names}

    def wrap(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return timed

    for name, function in originals.items():
        setattr(planning, name, wrap(name, function))
    try:
        yield spent
    finally:
        for name, function in originals.items():
            setattr(planning, name, function)


def plan(segment: Any) -> tuple[Any, dict[str, Any]]:
    """A group send to the segment, created and planned in this process."""
    from broadcast.planning import broadcast_plan
    from broadcast.services import BroadcastData, broadcast_create

    broadcast = broadcast_create(
        data=BroadcastData(name="周末上新", text=TEXT, audience="segment", segment_id=segment.pk)
    )
    with plan_timer() as spent, stopwatch() as elapsed:
        broadcast_plan(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    deliveries = sum(broadcast.counts.values())
    insert = spent.get("_insert_customer_deliveries", 0.0)
    counts = spent.get("broadcast_counts", 0.0)
    return broadcast, {
        "seconds": round(elapsed[0], 2),
        "deliveries": deliveries,
        "deliveries_per_second": round(deliveries / elapsed[0], 1),
        "counts": broadcast.counts,
        "insert_select_seconds": round(insert, 2),
        "count_by_status_seconds": round(counts, 2),
        "rest_seconds": round(elapsed[0] - insert - counts, 2),
    }


def copy_ceiling(broadcast_id: int) -> dict[str, Any]:
    """COPY the deliveries planning wrote into scratch copies of broadcast_delivery: same
    columns and indexes (LIKE ... INCLUDING ALL), then also its foreign keys. The rows are
    read out first (not timed); only COPY ... FROM STDIN is timed."""
    from django.db import connection

    columns = "broadcast_id, customer_id, target, sender_id, status, error"
    figures: dict[str, Any] = {}
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        buffer = io.StringIO()
        query = (
            f"SELECT {columns} FROM broadcast_delivery "  # noqa: S608 - constants and an int
            f"WHERE broadcast_id = {int(broadcast_id)} ORDER BY id"
        )
        cursor.copy_expert(f"COPY ({query}) TO STDOUT", buffer)
        rows = buffer.getvalue().count("\n")
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'broadcast_delivery'::regclass AND contype = 'f' ORDER BY conname"
        )
        foreign_keys = [definition for (definition,) in cursor.fetchall()]
        for variant, keys in (("indexes", []), ("indexes_and_foreign_keys", foreign_keys)):
            cursor.execute("DROP TABLE IF EXISTS bench_copy_delivery")
            cursor.execute(
                "CREATE TABLE bench_copy_delivery (LIKE broadcast_delivery INCLUDING ALL)"
            )
            for number_, definition in enumerate(keys):
                constraint = f"bench_fk_{number_}"
                cursor.execute(
                    f"ALTER TABLE bench_copy_delivery ADD CONSTRAINT {constraint} {definition}"
                )
            buffer.seek(0)
            # Autocommit: the COPY is its own transaction, deferred FK checks included.
            with stopwatch() as elapsed:
                cursor.copy_expert(f"COPY bench_copy_delivery ({columns}) FROM STDIN", buffer)
            figures[variant] = {
                "seconds": round(elapsed[0], 2),
                "rows_per_second": round(rows / elapsed[0], 1),
            }
        cursor.execute("DROP TABLE bench_copy_delivery")
    figures["rows"] = rows
    figures["foreign_keys"] = len(foreign_keys)
    return figures


# --- dispatch by Celery workers ------------------------------------------------------------


class Workers:
    """One Celery worker (prefork, `processes` children) on the bulk and default queues."""

    def __init__(self, processes: int, log_dir: str) -> None:
        self.processes = processes
        self.log_path = Path(log_dir) / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "LOG_LEVEL": "INFO"}  # throttling and adoption are logged at INFO
        with open(self.log_path, "wb") as output:
            self.process = subprocess.Popen(
                celery_worker_command(
                    "bulk,default",
                    self.processes,
                    f"bench-broadcast-{uuid.uuid4().hex[:6]}",
                    level="info",
                ),
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while b" ready." not in self.log_path.read_bytes():
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start: {self.tail()}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        """The worker's main process and its pool processes."""
        if self.process is None:
            return []
        main = self.process.pid
        children = Path(f"/proc/{main}/task/{main}/children")
        found = [main]
        with contextlib.suppress(OSError):
            found += [int(pid) for pid in children.read_text().split()]
        return found

    def memory(self) -> dict[str, Any]:
        """VmHWM (peak RSS) and VmRSS of each worker process, in MB."""
        processes: list[dict[str, Any]] = []
        peaks: list[float] = []
        for pid in self.pids():
            fields: dict[str, float] = {}
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    key, _, value = line.partition(":")
                    if key in ("VmHWM", "VmRSS"):
                        fields[key] = round(int(value.split()[0]) / 1024, 1)
            role = "main" if self.process is not None and pid == self.process.pid else "pool"
            processes.append({"pid": pid, "role": role, **fields})
            peaks.append(fields.get("VmHWM", 0.0))
        return {
            "processes": processes,
            "peak_rss_mb_max": max(peaks, default=0.0),
            "peak_rss_mb_sum": round(sum(peaks), 1),
        }

    def log_counts(self) -> dict[str, int]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        text = "\n".join(lines)
        return {
            "dispatch_task_runs": sum(
                1 for line in lines if "broadcast_dispatch_task[" in line and "received" in line
            ),
            "throttled_rescheduled": text.count("throttled; rescheduled"),
            "templates_adopted": text.count("adopted template"),
            # A task whose retries ran out: its chain of slices ends until the tick resumes it.
            "dispatch_chain_ended": sum(
                1
                for line in lines
                if "broadcast_dispatch_task[" in line and "raised unexpected" in line
            ),
            "errors": sum(1 for line in lines if "ERROR/" in line),
        }

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the worker exited with {self.process.returncode}: {self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def limiter_figures(overrides: dict[str, Any], calls: int) -> dict[str, Any]:
    """The limits the client's limiter applies to add_msg_template (bulk priority)."""
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
                "configured_limit": window.limit,
                "configured_seconds": window.seconds,
                "client_limit": limit,
                "client_seconds": seconds,
                "calls_per_second": round(limit / seconds, 2),
            }
        )
    config = {**settings.WECOM_RATE_LIMITS, **overrides}
    binding = min(slots, key=lambda slot: slot[0] / slot[1])
    return {
        "api": TEMPLATE_API,
        "corp_overrides": overrides,
        "safety": config["safety"],
        "welcome_reserve": config["welcome_reserve"],
        "windows": windows,
        "configured_per_second": round(
            min(w.limit / w.seconds for w in limiter.windows if w.scope == "corp"), 2
        ),
        "sustained_per_second": round(binding[0] / binding[1], 2),
        "first_window_allowance": min(limit for limit, _ in slots),
        "floor_seconds": round(limiter_schedule(calls, slots), 2),
    }


def dispatch(
    broadcast: Any,
    workers: Workers,
    stall_seconds: float,
    chunks_timeout: float,
    failures: list[str],
) -> dict[str, Any]:
    """Confirm, then wait while the workers create the templates; figures from the chunks'
    own timestamps."""
    from django.db.models import Count

    from broadcast.models import Broadcast, Chunk
    from broadcast.services import broadcast_confirm
    from broadcast.tasks import broadcast_tick_task

    confirmed_at = time.time()
    broadcast_confirm(broadcast=broadcast)
    ticked_at, ticks = time.monotonic(), 0
    progress, progress_at = -1, time.monotonic()
    rss_seen = 0.0
    while True:
        workers.check_alive()
        status = Broadcast.objects.values_list("status", flat=True).get(pk=broadcast.pk)
        counts = dict(
            Chunk.objects.filter(broadcast=broadcast)
            .values("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        rss = [float(p.get("VmRSS", 0.0)) for p in workers.memory()["processes"]]
        rss_seen = max(rss_seen, sum(rss))
        done = counts.get(Chunk.Status.CREATED, 0) + counts.get(Chunk.Status.FAILED, 0)
        if status != Broadcast.Status.DISPATCHING:
            break
        if not counts and time.monotonic() - progress_at > chunks_timeout:
            failures.append(f"dispatch: no chunks {chunks_timeout:.0f} s after confirming")
            break
        if not counts:
            pass  # chunks_create is running (its own time limit above)
        elif done != progress:
            if done and done // 500 != progress // 500:
                log(f"dispatch: {done:,} of {sum(counts.values()):,} templates created")
            progress, progress_at = done, time.monotonic()
        elif time.monotonic() - progress_at > stall_seconds:
            failures.append(
                f"dispatch stalled: no template created for {stall_seconds:.0f} s "
                f"(chunks {counts}, broadcast {status})"
            )
            break
        if time.monotonic() - ticked_at >= TICK_SECONDS:
            # What beat does in production (scrm/celery.py, "broadcast-tick"): resume a
            # dispatch whose chain of tasks ended.
            broadcast_tick_task.apply_async(kwargs={"tenant_schema": SCHEMA})
            ticked_at, ticks = time.monotonic(), ticks + 1
        time.sleep(POLL_SECONDS)
    finished_at = time.time()
    chunks = list(
        Chunk.objects.filter(broadcast=broadcast).values_list(
            "status", "claimed_at", "created_in_wecom_at"
        )
    )
    created = sorted(c[2].timestamp() for c in chunks if c[2] is not None)
    claims = [c[1].timestamp() for c in chunks if c[1] is not None]
    figures: dict[str, Any] = {
        "status": status,
        "chunks": len(chunks),
        "chunk_statuses": dict(Counter(c[0] for c in chunks)),
        "confirm_to_done_seconds": round(finished_at - confirmed_at, 2),
        "ticks": ticks,
    }
    if created and claims:
        first_claim = min(claims)
        span = created[-1] - first_claim
        figures.update(
            confirm_to_first_claim_seconds=round(first_claim - confirmed_at, 2),
            templates_seconds=round(span, 2),
            templates_per_second=round(len(created) / span, 2) if span > 0 else None,
            confirm_to_last_template_seconds=round(created[-1] - confirmed_at, 2),
            created_times=created,
        )
    figures["worker_rss_sampled_max_mb"] = round(rss_seen, 1)
    return figures


def worker_pace(created: list[float], allowance: int) -> dict[str, Any]:
    """The workers' own pace: templates/s within the first window's allowance (before the
    limiter can have made them wait)."""
    first = created[: max(2, min(allowance, len(created)))]
    if len(first) < 2 or first[-1] <= first[0]:
        return {"templates": len(first), "per_second": None}
    return {
        "templates": len(first),
        "per_second": round((len(first) - 1) / (first[-1] - first[0]), 2),
    }


# --- correctness ---------------------------------------------------------------------------


def sandbox_templates(control: Any, corp_id: str) -> list[dict[str, Any]]:
    templates: list[dict[str, Any]] = []
    while True:
        page = control.templates(corp_id, offset=len(templates), limit=10_000)
        templates += page["templates"]
        if not page["templates"] or len(templates) >= page["total"]:
            return templates


def confirm_all(control: Any, corp_id: str) -> dict[str, Any]:
    """Every template of the corp is sent by its guide (the control API, one per msgid)."""
    templates = sandbox_templates(control, corp_id)
    sent: Counter[str] = Counter()
    with stopwatch() as elapsed:
        for template in templates:
            if not template["cancelled"]:
                summary = control.confirm_template(corp_id, template["msgid"])
                for key in ("sent", "not_friend", "over_limit", "skipped"):
                    sent[key] += summary[key]
    return {
        "templates": len(templates),
        "seconds": round(elapsed[0], 1),
        "results": dict(sent),
    }


def received_log(control: Any, corp_id: str) -> dict[str, list[str]]:
    received: dict[str, list[str]] = {}
    while True:
        page = control.group_messages(corp_id, offset=len(received), limit=100_000)
        received.update((target, msgids) for target, msgids in page["received"])
        if not page["more"]:
            return received


def check(control: Any, corp_id: str, broadcast: Any, failures: list[str]) -> dict[str, Any]:
    """The sandbox's templates and received log against the plan (see the module docstring)."""
    from django.db import connection

    from broadcast.models import Chunk
    from contacts.models import Customer

    with stopwatch() as confirm_time:
        confirmed = confirm_all(control, corp_id)
    with stopwatch() as read_time:
        templates = sandbox_templates(control, corp_id)
        received = received_log(control, corp_id)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT d.target, d.status, c.msgid
            FROM broadcast_delivery d LEFT JOIN broadcast_chunk c ON c.id = d.chunk_id
            WHERE d.broadcast_id = %s
            """,
            [broadcast.pk],
        )
        deliveries = cursor.fetchall()
    customers = Customer.objects.count()
    chunks = {
        msgid: (userid, recipients)
        for msgid, userid, recipients in Chunk.objects.filter(broadcast=broadcast)
        .exclude(msgid="")
        .values_list("msgid", "sender__userid", "recipients")
    }
    in_sandbox = {t["msgid"]: t for t in templates}
    expected = {target: msgid for target, status, msgid in deliveries if status == "waiting"}
    not_waiting = Counter(status for _, status, _ in deliveries if status != "waiting")

    extra = sorted(set(in_sandbox) - set(chunks))
    missing = sorted(set(chunks) - set(in_sandbox))
    mismatched = [
        msgid
        for msgid, (userid, recipients) in chunks.items()
        if msgid in in_sandbox
        and (in_sandbox[msgid]["creator"] != userid or in_sandbox[msgid]["targets"] != recipients)
    ]
    per_creator = Counter(t["creator"] for t in templates)
    duplicates = {t: m for t, m in received.items() if len(m) > 1}
    lost = [t for t in expected if t not in received]
    wrong = [t for t, m in received.items() if t in expected and expected[t] not in m]
    unexpected = [t for t in received if t not in expected]
    figures = {
        "customers": customers,
        "deliveries": len(deliveries),
        "deliveries_waiting": len(expected),
        "deliveries_not_waiting": dict(not_waiting),
        "sandbox_templates": len(templates),
        "chunks_with_msgid": len(chunks),
        "templates_not_recorded": len(extra),
        "chunk_templates_missing": len(missing),
        "chunk_templates_mismatched": len(mismatched),
        "most_templates_per_guide": max(per_creator.values(), default=0),
        "confirm": confirmed,
        "confirm_seconds": round(confirm_time[0], 1),
        "read_seconds": round(read_time[0], 1),
        "customers_received": len(received),
        "duplicates": len(duplicates),
        "lost": len(lost),
        "received_another_template": len(wrong),
        "received_not_planned": len(unexpected),
    }
    if len(deliveries) != customers:
        failures.append(
            f"planning: {len(deliveries):,} deliveries for {customers:,} customers of the segment"
        )
    if not_waiting:
        failures.append(f"deliveries not handed to WeCom (lost): {dict(not_waiting)}")
    if extra:
        failures.append(
            f"{len(extra):,} templates in the sandbox that no chunk recorded (created twice?): "
            f"{extra[:5]}"
        )
    if missing:
        failures.append(f"{len(missing):,} chunks' templates are not in the sandbox: {missing[:5]}")
    if mismatched:
        failures.append(
            f"{len(mismatched):,} templates have another sender or recipient count than their "
            f"chunk: {mismatched[:5]}"
        )
    if duplicates:
        sample = dict(list(duplicates.items())[:3])
        failures.append(f"DUPLICATES: {len(duplicates):,} customers received it twice: {sample}")
    if lost:
        failures.append(f"LOST: {len(lost):,} planned customers did not receive it: {lost[:5]}")
    if wrong:
        failures.append(f"{len(wrong):,} customers received another chunk's template: {wrong[:5]}")
    if unexpected:
        failures.append(f"{len(unexpected):,} customers received it unplanned: {unexpected[:5]}")
    return figures


# --- report --------------------------------------------------------------------------------


def print_report(figures: dict[str, Any]) -> None:
    out: list[str] = []
    data = figures["data"]
    out.append(
        f"data: {number(data['guides'])} guides in {number(data['stores'])} stores, "
        f"{number(data['customers'])} customers ({number(data['customers_with_two_guides'])} "
        f"held by two guides), {number(data['relations'])} relations, the same in the sandbox "
        "and the database"
    )
    out.append(
        f"  sandbox seeded in {data['seed_seconds']} s; database: snapshot read "
        f"{data['snapshot_read_seconds']} s, COPY {data['copy_seconds']} s, indexes "
        f"{data['index_seconds']} s, vacuum analyze {data['vacuum_analyze_seconds']} s; "
        f"segment_save (everyone, {number(data['segment_count'])}) {data['segment_save_seconds']} s"
    )
    planning, ceiling = figures["planning"], figures["copy"]
    out.append(
        f"planning: broadcast_plan {number(planning['deliveries'])} deliveries in "
        f"{planning['seconds']} s = {number(planning['deliveries_per_second'])} deliveries/s "
        f"{planning['counts']}"
    )
    out.append(
        f"  INSERT ... SELECT {planning['insert_select_seconds']} s, count by status "
        f"{planning['count_by_status_seconds']} s, the rest (commit, deferred FK checks) "
        f"{planning['rest_seconds']} s"
    )
    for variant, label in (("indexes", "same indexes"), ("indexes_and_foreign_keys", "+ its FKs")):
        row = ceiling[variant]
        out.append(
            f"  ceiling: COPY {number(ceiling['rows'])} delivery rows into a copy of "
            f"broadcast_delivery ({label}): {row['seconds']} s = "
            f"{number(row['rows_per_second'])} rows/s; planning at "
            f"{figures['ratios'][f'planning_over_copy_{variant}']} of it"
        )
    sent, limits = figures["dispatch"], figures["limits"]
    windows = ", ".join(
        f"{number(w['client_limit'])}/{w['client_seconds']} s per {w['scope']} (configured "
        f"{number(w['configured_limit'])}/{w['configured_seconds']} s)"
        for w in limits["windows"]
    )
    out.append(
        f"dispatch: {number(sent['chunks'])} templates ({sent['chunk_statuses']}) by "
        f"{figures['workers']['processes']} Celery worker process(es) on 'bulk'"
    )
    out.append(
        f"  limits for {TEMPLATE_API} (bulk priority, safety {limits['safety']}, welcome reserve "
        f"{limits['welcome_reserve']}): {windows}; sustained {limits['sustained_per_second']}/s, "
        f"the first window allows {number(limits['first_window_allowance'])} at once; "
        f"these {number(sent['chunks'])} calls need at least {limits['floor_seconds']} s"
    )
    if sent.get("templates_per_second") is not None:
        ratio = figures["ratios"]
        out.append(
            f"  confirm -> first claim {sent['confirm_to_first_claim_seconds']} s (queue + "
            f"chunks_create); first claim -> last template {sent['templates_seconds']} s = "
            f"{sent['templates_per_second']} templates/s"
        )
        out.append(
            f"  = {ratio['templates_over_configured']} of the configured "
            f"{limits['configured_per_second']}/s, {ratio['templates_over_sustained']} of the "
            f"client's sustained {limits['sustained_per_second']}/s; the limiter's floor "
            f"{limits['floor_seconds']} s is {ratio['floor_over_templates_seconds']} of the time "
            f"taken; the workers' own pace (first {sent['pace']['templates']:,}): "
            f"{sent['pace']['per_second']} templates/s"
        )
    counted = figures["workers"]["log"]
    out.append(
        f"  dispatch task runs {counted['dispatch_task_runs']}, throttled and rescheduled "
        f"{counted['throttled_rescheduled']}, templates adopted {counted['templates_adopted']}; "
        f"the chain of slices ended {counted['dispatch_chain_ended']} times (retries used up), "
        f"resumed by the tick ({sent['ticks']} ticks, every {TICK_SECONDS} s as beat)"
    )
    memory = figures["workers"]["memory"]
    out.append(
        "  worker peak RSS (VmHWM): "
        + ", ".join(f"{p['role']} {p.get('VmHWM', '?')} MB" for p in memory["processes"])
        + f" (sum {memory['peak_rss_mb_sum']} MB); sandbox RSS {figures['sandbox_rss_mb']} MB"
    )
    checked = figures["check"]
    out.append(
        f"check: {number(checked['sandbox_templates'])} templates in the sandbox, "
        f"{number(checked['chunks_with_msgid'])} chunks (not recorded "
        f"{checked['templates_not_recorded']}, missing {checked['chunk_templates_missing']}, "
        f"mismatched {checked['chunk_templates_mismatched']}); all confirmed in "
        f"{checked['confirm_seconds']} s {checked['confirm']['results']}"
    )
    out.append(
        f"  {number(checked['customers_received'])} customers received it; planned "
        f"{number(checked['deliveries_waiting'])}; duplicates {checked['duplicates']}, lost "
        f"{checked['lost']}, another template {checked['received_another_template']}, unplanned "
        f"{checked['received_not_planned']}"
    )
    for failure in figures["failures"]:
        out.append(f"FAIL: {failure}")
    print("\n".join(out))


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--guides", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--limit", type=int, default=1500, help="calls per window, per corp")
    parser.add_argument("--window", type=int, default=60, help="seconds")
    parser.add_argument("--workers", type=int, default=2, help="Celery pool processes")
    parser.add_argument("--stall", type=float, default=300, help="seconds without a template")
    parser.add_argument(
        "--chunks-timeout", type=float, default=3600, help="seconds to wait for the chunks"
    )
    parser.add_argument("--smoke", action="store_true", help="20 guides, 2,000 customers")
    parser.add_argument("--keep-db", action="store_true", help="keep the database and logs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.guides, args.customers = SMOKE["guides"], SMOKE["customers"]
        args.limit, args.window = SMOKE["limit"], SMOKE["window"]

    base = services_env()
    db_name = f"scrm_bench_broadcast_{uuid.uuid4().hex[:8]}"
    admin_sql(base["DATABASE_URL"], f'CREATE DATABASE "{db_name}"')
    log_dir = tempfile.mkdtemp(prefix="bench-broadcast-")
    failures: list[str] = []
    figures: dict[str, Any] = {"failures": failures}
    sandbox = workers = None
    try:
        configure(base, db_name)
        flush_redis()
        from django_tenants.utils import schema_context

        from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
        from tenants.models import WeComCorp
        from wecom_sandbox.testing import SandboxProcess

        log(f"database {db_name}: migrating")
        tenant = create_tenant()
        corp_id = f"wwbench{uuid.uuid4().hex[:11]}"
        sandbox = SandboxProcess.start()
        overrides = {"per_corp": [[args.limit, args.window]]}
        with schema_context("public"):
            connect_to_sandbox(sandbox, tenant, corp_id)
            WeComCorp.objects.filter(corp_id=corp_id).update(rate_limits=overrides)
        log(f"seeding the sandbox: {args.guides:,} guides, {args.customers:,} customers")
        with stopwatch() as seed_time:
            data = seed_sandbox(sandbox.control, corp_id, args.guides, args.customers)
        data["seed_seconds"] = round(seed_time[0], 1)
        figures["data"] = data
        with schema_context(SCHEMA):
            log("loading the same contact book into the database")
            data.update(load_database(sandbox.control, corp_id))
            with stopwatch() as save_time:
                segment = everyone()
            data["segment_count"] = segment.last_count
            data["segment_save_seconds"] = round(save_time[0], 2)
            figures["database_bytes"] = database_size(db_name)

            log("planning")
            broadcast, figures["planning"] = plan(segment)
            log(f"planned in {figures['planning']['seconds']} s; COPY ceiling")
            figures["copy"] = copy_ceiling(broadcast.pk)

            workers = Workers(args.workers, log_dir)
            workers.start()
            figures["workers"] = {"processes": args.workers}
            log(f"dispatching at {args.limit:,} calls per {args.window} s")
            sent = dispatch(broadcast, workers, args.stall, args.chunks_timeout, failures)
            figures["workers"]["memory"] = workers.memory()
            figures["workers"]["log"] = workers.log_counts()
            workers.stop()
            limits = limiter_figures(overrides, sent["chunks"])
            created = sent.pop("created_times", [])
            sent["pace"] = worker_pace(created, limits["first_window_allowance"])
            figures["dispatch"], figures["limits"] = sent, limits
            if sent["status"] != "waiting":
                failures.append(f"dispatch ended with the broadcast {sent['status']}")

            log("confirming every template in the sandbox; reading who received what")
            figures["check"] = check(sandbox.control, corp_id, broadcast, failures)
            figures["sandbox_rss_mb"] = sandbox.control.stats()["rss_mb"]

        planning, ceiling = figures["planning"], figures["copy"]
        ratios: dict[str, Any] = {
            f"planning_over_copy_{variant}": round(
                planning["deliveries_per_second"] / ceiling[variant]["rows_per_second"], 3
            )
            for variant in ("indexes", "indexes_and_foreign_keys")
        }
        rate = sent.get("templates_per_second")
        if rate:
            ratios.update(
                templates_over_configured=round(rate / limits["configured_per_second"], 3),
                templates_over_sustained=round(rate / limits["sustained_per_second"], 3),
                floor_over_templates_seconds=round(
                    limits["floor_seconds"] / sent["templates_seconds"], 3
                ),
            )
        figures["ratios"] = ratios
    finally:
        if workers is not None:
            workers.stop()
        if sandbox is not None:
            sandbox.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        flush_redis()
        if args.keep_db:
            log(f"kept database {db_name} and the worker log in {log_dir}")
        else:
            admin_sql(base["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            if not failures:
                shutil.rmtree(log_dir, ignore_errors=True)
            else:
                log(f"the worker log is in {log_dir}")

    if args.json:
        print(json.dumps(figures, default=str))
    else:
        print_report(figures)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
