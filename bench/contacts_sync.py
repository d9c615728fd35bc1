"""Benchmark: full contacts sync from WeCom (the sandbox), its two ceilings, list latency.

    .venv/bin/python bench/contacts_sync.py                  # 2,000 guides, 200,000 relations
    .venv/bin/python bench/contacts_sync.py --smoke          # 50 guides, 2,000 relations (tests)
    .venv/bin/python bench/contacts_sync.py --scale 2000000  # N relations generated in SQL
    .venv/bin/python bench/contacts_sync.py --json           # one JSON object of all figures

Builds a fresh database with one tenant connected to a corp of a fresh WeCom sandbox, seeds
the sandbox (guides in departments, customers, some followed by two guides), then:

1. runs one full sync in this process (`contacts.sync.sync_run`) and prints relations/s,
   with the time split into phases and, within the contacts phase, into WeCom calls and
   database flushes; compares the database with the sandbox (exit 1 on any difference);
   runs the sync again and checks that it changed nothing (exit 1 otherwise);
2. measures the database ceiling in the same run: PostgreSQL COPY of the same relation rows
   into an unlogged copy of contacts_relation with the same indexes (rows/s), and computes
   the WeCom ceiling: the rate the client's limiter allows externalcontact/batch/get_by_user
   (settings.WECOM_RATE_LIMITS per corp and per IP, safety factor, welcome reserve, the
   corp's overrides) times 100 contacts per call; prints the sync rate as a ratio of the
   lower ceiling;
3. serves the data with gunicorn and measures p50 / p95 of the customers console page and
   the API list (first page, filtered pages, a page ~50 pages deep), and of the selector
   queries alone.

`--scale N` skips the sandbox and the sync (20 million relations are 200,000 WeCom calls,
at least 1.2 h at the configured limits; the output says how long for N): it generates N
relations directly in SQL, then measures COPY and latency at that size.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callbacks import admin_sql, free_port, services_env, wait_for, with_path  # noqa: E402

SCHEMA = "bench"
HOST = "bench.localhost"
REDIS_DB = 7  # test slots use 9-14, the demo 0, bench/callbacks.py 12
ADMIN_USERNAME = "benchadmin"
ADMIN_PASSWORD = "bench-Admin-password-42"  # noqa: S105 - a throwaway database
STATES = ["poster", "", "parcel", "store_qr"]
CONTACTS_PER_CALL = 100  # batch/get_by_user: limit <= 100
SYNC_API = "externalcontact/batch/get_by_user"
PAGE_SIZE = 50

# The columns a sync writes (contacts/upserts.py), for the COPY ceiling.
RELATION_COLUMNS = (
    "guide_id, customer_id, remark, description, remark_corp_name, remark_mobiles, add_way, "
    "state, oper_userid, wecom_tag_ids, added_at, status, status_changed_at, deleted_at, "
    "confirmed_at, updated_at"
)
CUSTOMER_COLUMNS = (
    "external_userid, name, avatar, type, gender, unionid, corp_name, position, "
    "last_added_at, created_at, updated_at"
)
EVENT_COLUMNS = "customer_id, kind, occurred_at, guide_id, data, dedupe_key, created_at"
GENERATED_TABLES = ("contacts_store", "contacts_guide", "contacts_customer", "contacts_relation")


def log(message: str) -> None:
    print(f"[contacts_sync] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then t[0] holds the seconds."""
    result = [0.0]
    start = time.perf_counter()
    try:
        yield result
    finally:
        result[0] = time.perf_counter() - start


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def disk_available() -> int:
    """Bytes available to us where the database lives (what `df` calls Avail)."""
    stat = os.statvfs(ROOT)
    return stat.f_bavail * stat.f_frsize


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --- environment and tenant ----------------------------------------------------------------


def configure(base: dict[str, str], db_name: str) -> None:
    """Point this process (and the web server it starts) at the bench database."""
    os.environ.update(
        {k: v for k, v in base.items() if k != "DJANGO_SETTINGS_MODULE"},
    )
    os.environ.update(
        DJANGO_SETTINGS_MODULE="scrm.settings.base",
        SCRM_ENV="development",
        SCRM_SERVICES_ENV=str(ROOT / ".local" / "none.env"),
        DATABASE_URL=with_path(base["DATABASE_URL"], f"/{db_name}"),
        REDIS_URL=with_path(base["REDIS_URL"], f"/{REDIS_DB}"),
        WECOM_SANDBOX_ENABLED="true",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def create_tenant() -> Any:
    """Migrate the fresh database; create the public tenant and ours, with an admin."""
    from django.core.management import call_command

    from tenants.models import Domain, Tenant
    from tenants.services import tenant_create

    with contextlib.redirect_stdout(sys.stderr):
        call_command("migrate_schemas", verbosity=0)
        public = Tenant(schema_name="public", name="Platform")
        public.save()
        Domain.objects.create(domain="localhost", tenant=public, is_primary=True)
        return tenant_create(
            name="Bench contacts",
            schema_name=SCHEMA,
            domain=HOST,
            admin_username=ADMIN_USERNAME,
            admin_password=ADMIN_PASSWORD,
        )


# --- sandbox, sync, comparison -------------------------------------------------------------


def seed_sandbox(control: Any, corp_id: str, guides: int, departments: int, relations: int):
    """`relations` relations: 90 % of customers followed by one guide, 10 % by two."""
    doubles = relations // 10
    singles = relations - 2 * doubles
    seeded = control.seed(
        corp_id,
        members=guides,
        departments=departments,
        customers=singles,
        follows_per_customer=1,
        states=STATES,
        random_seed=5,
    )
    if doubles:
        control.seed(
            corp_id,
            customers=doubles,
            follows_per_customer=2,
            states=STATES,
            random_seed=6,
        )
    return {
        "guides": guides,
        "departments": seeded["departments"],
        "customers": singles + doubles,
        "customers_with_two_guides": doubles,
        "relations": singles + 2 * doubles,
    }


PHASES = (
    "_sync_directory",
    "_sync_contacts",
    "_sync_group_chats",
    "_sweep",
    "_flush",
    "customers_upsert",
    "relations_upsert",
)


@contextlib.contextmanager
def phase_timer() -> Iterator[dict[str, float]]:
    """Time each phase of contacts.sync, its database flushes and their statements, by
    wrapping them."""
    from contacts import sync, upserts

    spent: dict[str, float] = defaultdict(float)
    originals = {name: getattr(sync, name) for name in PHASES}
    timeline_added = upserts.timeline_added

    def wrap(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return timed

    for name, function in originals.items():
        setattr(sync, name, wrap(name, function))
    upserts.timeline_added = wrap("timeline_added", timeline_added)
    try:
        yield spent
    finally:
        for name, function in originals.items():
            setattr(sync, name, function)
        upserts.timeline_added = timeline_added


def run_sync() -> dict[str, Any]:
    """One full sync in this process, timed; returns its figures."""
    from contacts.models import SyncRun
    from contacts.sync import sync_run

    run = SyncRun.objects.create(trigger="bench")
    with phase_timer() as spent, stopwatch() as elapsed:
        status = sync_run(sync_run_id=run.pk)
    run.refresh_from_db()
    seconds = elapsed[0]
    seen = int(run.stats.get("relations_seen", 0))
    pages = int(run.stats.get("pages", 0))
    return {
        "status": str(status),
        "error": run.error,
        "seconds": round(seconds, 2),
        "relations_per_second": round(seen / seconds, 1) if seconds else 0.0,
        "stats": run.stats,
        "batch_get_by_user_calls": pages,
        "contacts_per_call": round(seen / pages, 1) if pages else 0.0,
        "phase_seconds": {
            "directory": round(spent["_sync_directory"], 2),
            "contacts": round(spent["_sync_contacts"], 2),
            "contacts_wecom_calls": round(spent["_sync_contacts"] - spent["_flush"], 2),
            "contacts_db_flushes": round(spent["_flush"], 2),
            "flush_customers_upsert": round(spent["customers_upsert"], 2),
            "flush_relations_upsert": round(spent["relations_upsert"] - spent["timeline_added"], 2),
            "flush_timeline_events": round(spent["timeline_added"], 2),
            "flush_rest": round(
                spent["_flush"] - spent["customers_upsert"] - spent["relations_upsert"], 2
            ),
            "group_chats": round(spent["_sync_group_chats"], 2),
            "sweep": round(spent["_sweep"], 2),
        },
    }


CHANGES = ("relations_new", "relations_revived", "relations_vanished", "customers_new")


def sync_and_compare(control: Any, corp_id: str, failures: list[str]) -> dict[str, Any]:
    from contacts.models import CustomerEvent, Relation
    from contacts.tests.sync_compare import differences, sandbox_state

    log("full sync #1")
    first = run_sync()
    if first["status"] != "done":
        failures.append(f"sync #1 ended {first['status']}: {first['error']}")
    log(f"sync #1: {first['seconds']} s; comparing with the sandbox")
    with stopwatch() as compare_time:
        found = differences(sandbox_state(control, corp_id))
    if found:
        failures.append(f"the synced data differs from the sandbox: {json.dumps(found)}")
    log("full sync #2 (nothing changed in WeCom)")
    second = run_sync()
    changed = {k: second["stats"].get(k, 0) for k in CHANGES if second["stats"].get(k, 0)}
    if second["status"] != "done":
        failures.append(f"sync #2 ended {second['status']}: {second['error']}")
    if changed:
        failures.append(f"sync #2 changed rows though WeCom did not change: {changed}")
    return {
        "sync": first,
        "compare_seconds": round(compare_time[0], 2),
        "differences": found,
        "second_sync": {
            "seconds": second["seconds"],
            "relations_per_second": second["relations_per_second"],
            "changed": changed,
            "stats": second["stats"],
        },
        "relations_in_db": Relation.objects.count(),
        "timeline_added_events": CustomerEvent.objects.filter(kind="added").count(),
    }


# --- ceilings ------------------------------------------------------------------------------


def copy_ceiling(limit: int, *, with_customers_and_events: bool) -> dict[str, Any]:
    """COPY the rows the sync wrote into unlogged copies of their tables (same indexes).

    The rows are read out first (not timed); only COPY ... FROM STDIN is timed.
    """
    from django.db import connection

    def copy_table(table: str, columns: str, rows: int, logged: bool = False) -> tuple[int, float]:
        target = f"bench_copy_{table}"
        with connection.cursor() as django_cursor:
            cursor = django_cursor.cursor
            buffer = io.StringIO()
            # Table and column names are this module's constants.
            query = f"SELECT {columns} FROM {table} ORDER BY id LIMIT {rows}"  # noqa: S608
            cursor.copy_expert(f"COPY ({query}) TO STDOUT", buffer)
            copied = buffer.getvalue().count("\n")
            buffer.seek(0)
            kind = "" if logged else "UNLOGGED "
            cursor.execute(f"DROP TABLE IF EXISTS {target}")
            cursor.execute(f"CREATE {kind}TABLE {target} (LIKE {table} INCLUDING ALL)")
            with stopwatch() as elapsed:
                cursor.copy_expert(f"COPY {target} ({columns}) FROM STDIN", buffer)
            cursor.execute(f"DROP TABLE {target}")
        return copied, elapsed[0]

    rows, seconds = copy_table("contacts_relation", RELATION_COLUMNS, limit)
    figures: dict[str, Any] = {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds, 1),
    }
    logged_rows, logged_seconds = copy_table("contacts_relation", RELATION_COLUMNS, limit, True)
    figures["logged_rows_per_second"] = round(logged_rows / logged_seconds, 1)
    if with_customers_and_events:
        # Everything a sync writes per relation: its customer, the relation, an "added" event.
        customers, customer_seconds = copy_table("contacts_customer", CUSTOMER_COLUMNS, 10**12)
        events, event_seconds = copy_table("contacts_customerevent", EVENT_COLUMNS, 10**12)
        total = seconds + customer_seconds + event_seconds
        figures["all_sync_rows"] = {
            "customers": customers,
            "relations": rows,
            "events": events,
            "seconds": round(total, 2),
            "relations_per_second": round(rows / total, 1),
        }
    return figures


def limiter_schedule(calls: int, windows: list[tuple[int, float]]) -> float:
    """Seconds the limiter needs at least for `calls` calls, each window (limit, seconds)
    sliding: call k may start only once call k-limit has left every window."""
    starts = [0.0] * calls
    for k in range(calls):
        start = starts[k - 1] if k else 0.0
        for limit, seconds in windows:
            if k >= limit:
                start = max(start, starts[k - limit] + seconds)
        starts[k] = start
    return starts[-1] if calls else 0.0


def wecom_ceiling(overrides: dict[str, Any], calls: int, relations: int) -> dict[str, Any]:
    """What the client's limiter allows batch/get_by_user, as relations per second."""
    from django.conf import settings

    from scrm.wecom.ratelimit import RateLimiter

    limiter = RateLimiter(tenant_schema=SCHEMA, corp_id="bench", overrides=overrides)
    windows: list[dict[str, Any]] = []
    slots: list[tuple[int, float]] = []
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
                "calls_per_second": round(limit / seconds, 2),
            }
        )
    sustained = min(limit / seconds for limit, seconds in slots)
    floor = limiter_schedule(calls, slots)
    config = {**settings.WECOM_RATE_LIMITS, **overrides}
    return {
        "api": SYNC_API,
        "priority": "bulk",
        "safety": config["safety"],
        "welcome_reserve": config["welcome_reserve"],
        "corp_overrides": overrides,
        "windows": windows,
        "sustained_calls_per_second": round(sustained, 2),
        "relations_per_second": round(sustained * CONTACTS_PER_CALL, 1),
        "this_run_calls": calls,
        "this_run_limiter_floor_seconds": round(floor, 1),
        "this_run_bound_relations_per_second": round(relations / floor, 1) if floor else None,
    }


# --- generated data (--scale) --------------------------------------------------------------


def secondary_indexes(
    cursor: Any, tables: list[str], schema: str = SCHEMA
) -> list[tuple[str, str, str]]:
    """(table, name, definition) of the indexes and unique constraints other than primary
    keys on `tables` of `schema`: dropped while loading, rebuilt after."""
    cursor.execute(
        """
        SELECT c.relname, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
               k.conname, pg_get_constraintdef(k.oid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = c.oid
        WHERE n.nspname = %s AND c.relname = ANY(%s) AND NOT i.indisprimary
        """,
        [schema, tables],
    )
    found = []
    for table, index, index_def, constraint, constraint_def in cursor.fetchall():
        if constraint:
            found.append((table, f"CONSTRAINT {constraint}", constraint_def))
        else:
            found.append((table, index, index_def))
    return found


def generate(relations: int, guides: int, departments: int) -> dict[str, Any]:
    """N relations straight into the tenant's tables, shaped like the sandbox seed: 90 % of
    customers with one guide, 10 % with two; 1 in 29 relations deleted by the customer."""
    from django.db import connection

    doubles = relations // 10
    customers = relations - doubles
    chunk = 2_000_000
    figures: dict[str, Any] = {
        "guides": guides,
        "departments": departments,
        "customers": customers,
        "customers_with_two_guides": doubles,
        "relations": relations,
    }
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        cursor.execute("SET maintenance_work_mem = '1GB'")
        # Generated rows are consistent by construction: skip the per-row FK triggers.
        cursor.execute("SET session_replication_role = replica")
        dropped = secondary_indexes(cursor, ["contacts_customer", "contacts_relation"])
        for table, name, _definition in dropped:
            if name.startswith("CONSTRAINT "):
                cursor.execute(f"ALTER TABLE {table} DROP {name}")
            else:
                cursor.execute(f"DROP INDEX {name}")
        with stopwatch() as load_time:
            cursor.execute(
                """
                INSERT INTO contacts_store (id, department_id, name, parent_department_id,
                                            "order", synced_at)
                SELECT 1, 1, 'Bench', NULL, 0, now()
                UNION ALL
                SELECT 1 + d, 1 + d, '门店' || lpad(d::text, 4, '0'), 1, 1000 - d, now()
                FROM generate_series(1, %(departments)s) d;
                INSERT INTO contacts_guide (id, userid, name, position, store_id, department_ids,
                                            status, departed_at, customer_contact, created_at,
                                            synced_at)
                SELECT g, 'guide' || lpad(g::text, 5, '0'), '导购' || g, '',
                       2 + g %% %(departments)s, ARRAY[2 + g %% %(departments)s]::bigint[],
                       'active', NULL, true, now(), now()
                FROM generate_series(1, %(guides)s) g;
                """,
                {"departments": departments, "guides": guides},
            )
            for low in range(1, customers + 1, chunk):
                high = min(customers, low + chunk - 1)
                with stopwatch() as elapsed:
                    cursor.execute(
                        """
                        INSERT INTO contacts_customer (id, external_userid, name, avatar, type,
                            gender, unionid, corp_name, position, last_added_at, created_at,
                            updated_at)
                        SELECT i, 'wm' || substr(md5(i::text), 1, 30), '客户' || i, '', 1, i %% 3,
                               '', '', '',
                               now() - ((i * 7919) %% 31536000) * interval '1 second',
                               now(), now()
                        FROM generate_series(%(low)s::bigint, %(high)s) i
                        """,
                        {"low": low, "high": high},
                    )
                    cursor.execute(
                        """
                        INSERT INTO contacts_relation (guide_id, customer_id, remark, description,
                            remark_corp_name, remark_mobiles, add_way, state, oper_userid,
                            wecom_tag_ids, added_at, status, status_changed_at, deleted_at,
                            confirmed_at, updated_at)
                        SELECT 1 + (i + f) %% %(guides)s, i, '', '', '', '{}', 1,
                               (ARRAY['poster', '', 'parcel', 'store_qr'])[1 + i %% 4], '', '{}',
                               t.added, CASE WHEN (i + f) %% 29 = 0
                                             THEN 'deleted_by_customer' ELSE 'active' END,
                               t.added,
                               CASE WHEN (i + f) %% 29 = 0
                                    THEN t.added + interval '1 day' END,
                               now(), now()
                        FROM generate_series(%(low)s::bigint, %(high)s) i
                        CROSS JOIN LATERAL generate_series(0, CASE WHEN i <= %(doubles)s
                                                                   THEN 1 ELSE 0 END) f
                        CROSS JOIN LATERAL (
                            SELECT now() - ((i * 7919) %% 31536000) * interval '1 second'
                                   - f * interval '1 day' AS added) t
                        """,
                        {"low": low, "high": high, "guides": guides, "doubles": doubles},
                    )
                log(f"generated customers {low:,}-{high:,} ({elapsed[0]:.0f} s)")
        with stopwatch() as index_time:
            for table, name, definition in dropped:
                if name.startswith("CONSTRAINT "):
                    cursor.execute(f"ALTER TABLE {table} ADD {name} {definition}")
                else:
                    cursor.execute(definition)
            for table in ("contacts_store", "contacts_guide", "contacts_customer"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                cursor.execute(f"SELECT setval({sequence}, max(id)) FROM {table}")  # noqa: S608
            cursor.execute("SET session_replication_role = DEFAULT")
        log(f"indexes rebuilt ({index_time[0]:.0f} s); vacuum analyze")
        with stopwatch() as vacuum_time:
            for table in GENERATED_TABLES:
                cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute("SELECT count(*) FROM contacts_relation")
        row = cursor.fetchone()
        assert row is not None
        figures.update(
            relations_in_db=int(row[0]),
            load_seconds=round(load_time[0], 1),
            index_seconds=round(index_time[0], 1),
            vacuum_analyze_seconds=round(vacuum_time[0], 1),
        )
    return figures


def forget_corp(corp_id: str) -> None:
    """Drop this run's access tokens and rate-limiter windows from Redis."""
    with contextlib.suppress(Exception):
        from django_redis import get_redis_connection

        redis = get_redis_connection("default")
        for key in redis.scan_iter(match=f"*:{corp_id}:*", count=1000):
            redis.delete(key)


def database_size(db_name: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(%s)", [db_name])
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


# --- latency -------------------------------------------------------------------------------


class Web:
    """gunicorn serving the bench database, and a logged-in console session and API key."""

    def __init__(self, workers: int) -> None:
        import requests

        self.port = free_port()
        self.workers = workers
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "scrm.wsgi",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                str(workers),
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=dict(os.environ),
        )
        wait_for(self.port)
        self.console = requests.Session()
        self.api = requests.Session()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, session: Any, path: str) -> Any:
        return session.get(
            self.url(path), headers={"Host": HOST}, timeout=120, allow_redirects=False
        )

    def log_in(self) -> None:
        """Through the login form, as an operator would."""
        page = self.get(self.console, "/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if page.status_code != 200 or token is None:
            raise RuntimeError(f"login page: HTTP {page.status_code}")
        answer = self.console.post(
            self.url("/accounts/login/"),
            data={
                "username": ADMIN_USERNAME,
                "password": ADMIN_PASSWORD,
                "csrfmiddlewaretoken": token.group(1),
            },
            headers={"Host": HOST},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 302 or "sessionid" not in self.console.cookies:
            raise RuntimeError(f"login failed: HTTP {answer.status_code}")

    def use_api_key(self) -> None:
        from accounts.models import User
        from accounts.services import api_key_create

        admin = User.objects.get(username=ADMIN_USERNAME)
        _key, raw = api_key_create(name="bench", scope="read", created_by=admin)
        self.api.headers["Authorization"] = f"Bearer {raw}"
        api_key_recently_used()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def api_key_recently_used() -> None:
    """Steady state: the worker has recorded the key's use (no Celery worker runs here, so
    without this every request would queue a last-used update)."""
    from django.utils import timezone

    from accounts.models import APIKey

    APIKey.objects.update(last_used_at=timezone.now())


NEXT_LINK = re.compile(r'<a href="([^"]*)"[^>]*rel="next"')


def console_next(path: str, body: str) -> str | None:
    found = NEXT_LINK.search(body)
    if found is None:
        return None
    link = html.unescape(found.group(1))
    return (path.split("?")[0] + link) if link.startswith("?") else link


def api_next(body: Any) -> str | None:
    link = body.get("next")
    if not link:
        return None
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def latency_cases(depth: int) -> list[dict[str, Any]]:
    """First page, two filtered pages, a deep page: paths for the console and the API,
    CustomerFilters for the selector."""
    from django.db.models import Count

    from contacts.models import Guide, Store
    from contacts.selectors import CustomerFilters

    store = (
        Store.objects.annotate(n=Count("guides"))
        .filter(n__gt=0)
        .order_by("-n", "department_id")
        .first()
    )
    guides = list(Guide.objects.order_by("userid").values_list("pk", "userid"))
    guide_id, guide_userid = guides[len(guides) // 2]
    assert store is not None
    return [
        {"case": "first page", "console": "/customers/", "api": "/api/v1/customers/", "depth": 0},
        {
            "case": "filtered: store + active",
            "console": f"/customers/?store={store.pk}&status=active",
            "api": f"/api/v1/customers/?store={store.pk}&status=active",
            "filters": CustomerFilters(store_id=store.pk, status="active"),
            "depth": 0,
        },
        {
            "case": "filtered: one guide",
            "console": f"/customers/?guide={guide_userid}",
            "api": f"/api/v1/customers/?guide={guide_id}",
            "filters": CustomerFilters(guide_id=guide_id),
            "depth": 0,
        },
        {
            "case": "filtered: a rare status",
            "console": "/customers/?status=deleted_by_customer",
            "api": "/api/v1/customers/?status=deleted_by_customer",
            "filters": CustomerFilters(status="deleted_by_customer"),
            "depth": 0,
            "may_be_empty": True,  # the sandbox seed has no deleted relations
        },
        {
            "case": f"deep page ({depth} pages in)",
            "console": "/customers/",
            "api": "/api/v1/customers/",
            "depth": depth,
        },
    ]


def timings(measure: Callable[[], None], repeat: int) -> dict[str, float]:
    measure()  # warm up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        measure()
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
        "runs": repeat,
    }


def measure_latency(web: Web | None, depth: int, repeat: int, failures: list[str]) -> dict:
    from contacts.selectors import CustomerFilters, customer_list, keyset_page

    results: dict[str, Any] = {}
    for case in latency_cases(depth):
        name = case["case"]
        row: dict[str, Any] = {}
        filters = case.get("filters") or CustomerFilters()

        # The selector queries alone: the page and its relations (prefetched), no HTTP.
        cursor = ""
        for _ in range(case["depth"]):
            cursor = keyset_page(customer_list(filters), after=cursor, size=PAGE_SIZE).next_cursor

        def selector_page(after: str = cursor, chosen: CustomerFilters = filters) -> None:
            page = keyset_page(customer_list(chosen), after=after, size=PAGE_SIZE)
            for customer in page:
                for relation in customer.relations.all():
                    _ = relation.guide.store

        row["selector"] = timings(selector_page, repeat)
        if web is not None:
            for surface, session in (("console", web.console), ("api", web.api)):
                path = case[surface]
                api_key_recently_used()
                for _ in range(case["depth"]):  # follow the `next` links
                    answer = web.get(session, path)
                    following = (
                        console_next(path, answer.text)
                        if surface == "console"
                        else api_next(answer.json())
                    )
                    if following is None:
                        failures.append(f"{surface} {name}: no next page after {path}")
                        break
                    path = following
                if surface == "api":
                    api_key_recently_used()
                statuses: list[int] = []

                def fetch(
                    chosen: str = path, session: Any = session, statuses: list[int] = statuses
                ) -> None:
                    answer = web.get(session, chosen)
                    _ = answer.content
                    statuses.append(answer.status_code)

                row[surface] = timings(fetch, repeat)
                row[surface]["path"] = path if len(path) < 90 else path[:87] + "..."
                bad = [s for s in statuses if s != 200]
                if bad:
                    failures.append(f"{surface} {name}: HTTP {bad[0]} on {path}")
                rows = page_rows(web, surface, session, path)
                row[surface]["rows"] = rows
                if rows == 0 and not case.get("may_be_empty"):
                    failures.append(f"{surface} {name}: the page is empty ({path})")
        results[name] = row
        log(f"latency: {name}: {json.dumps(row)}")
    return results


def page_rows(web: Web, surface: str, session: Any, path: str) -> int:
    answer = web.get(session, path)
    if answer.status_code != 200:
        return 0
    if surface == "api":
        return len(answer.json()["results"])
    return len(set(re.findall(r'href="/customers/(\d+)/"', answer.text)))


def explain_pages(depth: int) -> list[dict[str, Any]]:
    """EXPLAIN ANALYZE of every query the selector runs for each case (--explain)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contacts.selectors import CustomerFilters, customer_list, keyset_page

    plans = []
    for case in latency_cases(depth):
        filters = case.get("filters") or CustomerFilters()
        cursor = ""
        for _ in range(case["depth"]):
            cursor = keyset_page(customer_list(filters), after=cursor, size=PAGE_SIZE).next_cursor
        with CaptureQueriesContext(connection) as captured:
            list(keyset_page(customer_list(filters), after=cursor, size=PAGE_SIZE))
        for query in captured.captured_queries:
            with connection.cursor() as db_cursor:
                db_cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = "\n".join(line for (line,) in db_cursor.fetchall())
            plans.append({"case": case["case"], "sql": query["sql"], "plan": plan})
    return plans


# --- report --------------------------------------------------------------------------------


def number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_report(figures: dict[str, Any]) -> None:
    out: list[str] = []
    seeded = figures["data"]
    out.append(f"mode: {figures['mode']}")
    out.append(
        f"data: {number(seeded['guides'])} guides in {number(seeded['departments'])} "
        f"departments, {number(seeded['customers'])} customers "
        f"({number(seeded['customers_with_two_guides'])} followed by two guides), "
        f"{number(seeded['relations'])} relations"
    )
    if "sync" in figures:
        sync = figures["sync"]
        phases = sync["phase_seconds"]
        out.append(
            f"full sync: {number(sync['stats'].get('relations_seen', 0))} relations in "
            f"{sync['seconds']} s = {number(sync['relations_per_second'])} relations/s "
            f"({number(sync['batch_get_by_user_calls'])} {SYNC_API} calls, "
            f"{sync['contacts_per_call']} contacts per call)"
        )
        out.append(
            f"  phases: directory {phases['directory']} s, contacts {phases['contacts']} s "
            f"(WeCom calls {phases['contacts_wecom_calls']} s + database flushes "
            f"{phases['contacts_db_flushes']} s), group chats {phases['group_chats']} s, "
            f"sweep {phases['sweep']} s"
        )
        out.append(
            f"  database flushes: customers upsert {phases['flush_customers_upsert']} s, "
            f"relations upsert {phases['flush_relations_upsert']} s, 'added' events "
            f"{phases['flush_timeline_events']} s, parsing + checkpoint "
            f"{phases['flush_rest']} s"
        )
        out.append(
            "compared with the sandbox: "
            + ("identical" if not figures["differences"] else "DIFFERENT")
            + f" ({number(figures['relations_in_db'])} relations, "
            f"{number(figures['timeline_added_events'])} 'added' events; "
            f"{figures['compare_seconds']} s)"
        )
        second = figures["second_sync"]
        out.append(
            f"second full sync: {second['seconds']} s = "
            f"{number(second['relations_per_second'])} relations/s, "
            + ("nothing changed" if not second["changed"] else f"CHANGED {second['changed']}")
        )
    if "generated" in figures:
        generated = figures["generated"]
        out.append(
            f"generated in SQL: load {generated['load_seconds']} s, indexes "
            f"{generated['index_seconds']} s, vacuum analyze "
            f"{generated['vacuum_analyze_seconds']} s; database "
            f"{figures['database_bytes'] / 1e9:.2f} GB, disk free "
            f"{figures['disk_free_before_gb']} -> {figures['disk_free_after_gb']} GB"
        )
        out.append(f"  {figures['why_not_synced']}")
    copy = figures["copy"]
    wecom = figures["wecom"]
    out.append("ceilings:")
    out.append(
        f"  database: COPY {number(copy['rows'])} relation rows into an unlogged copy of "
        f"contacts_relation (same indexes): {copy['seconds']} s = "
        f"{number(copy['rows_per_second'])} rows/s (logged table: "
        f"{number(copy['logged_rows_per_second'])} rows/s)"
    )
    if "all_sync_rows" in copy:
        every = copy["all_sync_rows"]
        out.append(
            f"            with the customers and 'added' events a sync also writes: "
            f"{number(every['relations_per_second'])} relations/s"
        )
    windows = ", ".join(
        f"{number(w['client_limit'])}/{number(w['wecom_window_seconds'])} s per {w['scope']} "
        f"(WeCom {number(w['wecom_limit'])})"
        for w in wecom["windows"]
    )
    out.append(
        f"  WeCom: {SYNC_API} at the client's bulk limits [{windows}; safety "
        f"{wecom['safety']}, welcome reserve {wecom['welcome_reserve']}, corp overrides "
        f"{wecom['corp_overrides'] or 'none'}]: sustained "
        f"{wecom['sustained_calls_per_second']} calls/s x {CONTACTS_PER_CALL} = "
        f"{number(wecom['relations_per_second'])} relations/s"
    )
    floor = wecom["this_run_limiter_floor_seconds"]
    out.append(
        f"         this data's {number(wecom['this_run_calls'])} calls: the limiter needs "
        + (
            f"at least {number(floor)} s ({number(wecom['this_run_bound_relations_per_second'])}"
            " relations/s)"
            if floor
            else "no wait (they fit in every window's allowance)"
        )
    )
    ratio = figures["ratio"]
    out.append(
        f"  lower ceiling: {ratio['lower']} ({number(ratio['lower_relations_per_second'])} "
        "relations/s)"
        + (
            f"; full sync at {ratio['sync_over_lower']} of it"
            if ratio.get("sync_over_lower") is not None
            else ""
        )
    )
    latency = figures["latency"]
    out.append(
        f"latency ({figures['latency_server']}), p50 / p95 ms over {figures['repeat']} runs:"
    )
    out.append(f"  {'':32}{'console page':>18}{'API list':>18}{'selector only':>18}")
    for case, row in latency.items():
        cells = []
        for surface in ("console", "api", "selector"):
            cell = row.get(surface)
            cells.append(f"{cell['p50_ms']:.1f} / {cell['p95_ms']:.1f}" if cell else "-")
        out.append(f"  {case:32}" + "".join(f"{c:>18}" for c in cells))
    for failure in figures["failures"]:
        out.append(f"FAIL: {failure}")
    print("\n".join(out))


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guides", type=int, default=2000)
    parser.add_argument("--departments", type=int, default=20)
    parser.add_argument("--relations", type=int, default=200_000)
    parser.add_argument("--smoke", action="store_true", help="50 guides, 2,000 relations")
    parser.add_argument(
        "--scale",
        type=int,
        default=0,
        metavar="N",
        help="generate N relations in SQL (no sandbox, no sync); measure COPY and latency",
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per case")
    parser.add_argument("--depth", type=int, default=50, help="pages in, for the deep page")
    parser.add_argument("--copy-rows", type=int, default=1_000_000, help="COPY at most this")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE to stderr")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.guides, args.departments, args.relations = 50, 5, 2000
        args.repeat, args.depth = min(args.repeat, 5), min(args.depth, 5)
    if args.scale:
        args.relations = args.scale
        args.guides = max(args.guides, args.scale // 1000)
        args.departments = max(args.departments, args.guides // 100)

    base = services_env()
    db_name = f"scrm_bench_contacts_{uuid.uuid4().hex[:8]}"
    disk_before = disk_available()
    if args.scale:
        # Measured: 0.58 kB of database per relation, indexes included (1.16 GB at 2M,
        # 11.5 GB at 20M). Count 1 kB, and want twice that free for WAL and index builds.
        needed = args.scale * 1000
        if disk_before < 2 * needed + 5e9:
            sys.exit(
                f"--scale {args.scale:,} needs about {needed / 1e9:.0f} GB; only "
                f"{disk_before / 1e9:.0f} GB free"
            )
    admin_sql(base["DATABASE_URL"], f'CREATE DATABASE "{db_name}"')
    failures: list[str] = []
    figures: dict[str, Any] = {"repeat": args.repeat, "failures": failures}
    sandbox = web = None
    corp_id = ""
    try:
        configure(base, db_name)
        from django_tenants.utils import schema_context

        log(f"database {db_name}: migrating")
        tenant = create_tenant()
        with schema_context(SCHEMA):
            if args.scale:
                figures["mode"] = f"--scale {args.scale:,}: relations generated in SQL"
                log(f"generating {args.scale:,} relations")
                figures["generated"] = generate(args.scale, args.guides, args.departments)
                figures["data"] = {
                    k: figures["generated"][k]
                    for k in (
                        "guides",
                        "departments",
                        "customers",
                        "customers_with_two_guides",
                        "relations",
                    )
                }
                figures["database_bytes"] = database_size(db_name)
                figures["disk_free_before_gb"] = round(disk_before / 1e9, 1)
                figures["disk_free_after_gb"] = round(disk_available() / 1e9, 1)
                calls = math.ceil(args.scale / CONTACTS_PER_CALL)
                figures["wecom"] = wecom_ceiling({}, calls, args.scale)
                floor = figures["wecom"]["this_run_limiter_floor_seconds"]
                figures["why_not_synced"] = (
                    f"not synced: {args.scale:,} relations are {calls:,} {SYNC_API} calls, "
                    f"which the configured limits spread over {duration(floor)} at the very "
                    f"least ({duration(args.scale / figures['wecom']['relations_per_second'])}"
                    " at the sustained rate); generated in SQL instead"
                )
                figures["copy"] = copy_ceiling(
                    min(args.copy_rows, args.scale), with_customers_and_events=False
                )
            else:
                from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
                from wecom_sandbox.testing import SandboxProcess

                figures["mode"] = "full sync from the WeCom sandbox, in this process"
                corp_id = f"wwbench{uuid.uuid4().hex[:11]}"  # its own limiter and token keys
                sandbox = SandboxProcess.start()
                with schema_context("public"):
                    corp = connect_to_sandbox(sandbox, tenant, corp_id)
                limits = sandbox.control.get_limits()
                log(f"sandbox limits (WeCom's, unchanged): {json.dumps(limits)[:300]}")
                with stopwatch() as seed_time:
                    figures["data"] = seed_sandbox(
                        sandbox.control, corp_id, args.guides, args.departments, args.relations
                    )
                log(f"seeded the sandbox in {seed_time[0]:.1f} s: {figures['data']}")
                figures.update(sync_and_compare(sandbox.control, corp_id, failures))
                calls = figures["sync"]["batch_get_by_user_calls"]
                figures["wecom"] = wecom_ceiling(
                    corp.rate_limits or {}, calls, figures["data"]["relations"]
                )
                figures["copy"] = copy_ceiling(args.copy_rows, with_customers_and_events=True)
                sandbox.stop()
                sandbox = None
            lower = min(
                ("database", figures["copy"]["rows_per_second"]),
                ("WeCom", figures["wecom"]["relations_per_second"]),
                key=lambda item: item[1],
            )
            figures["ratio"] = {"lower": lower[0], "lower_relations_per_second": lower[1]}
            if "sync" in figures:
                figures["ratio"]["sync_over_lower"] = round(
                    figures["sync"]["relations_per_second"] / lower[1], 3
                )
            log("starting gunicorn")
            web = Web(args.workers)
            web.log_in()
            web.use_api_key()
            figures["latency_server"] = f"gunicorn, {args.workers} worker, one client"
            figures["latency"] = measure_latency(web, args.depth, args.repeat, failures)
            if args.explain:
                for plan in explain_pages(args.depth):
                    log(f"EXPLAIN {plan['case']}:\n{plan['sql']}\n{plan['plan']}")
    finally:
        if web is not None:
            web.stop()
        if sandbox is not None:
            sandbox.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if corp_id:
            forget_corp(corp_id)
        if args.keep_db:
            log(f"kept database {db_name}")
        else:
            admin_sql(base["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    if args.json:
        print(json.dumps(figures, default=str))
    else:
        print_report(figures)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
