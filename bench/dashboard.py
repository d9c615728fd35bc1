"""Benchmark: the operator dashboard (console home) over pre-aggregated daily tables, against
the same numbers counted straight from the relations.

    .venv/bin/python bench/dashboard.py                     # 1,000,000 relations, 90 days
    .venv/bin/python bench/dashboard.py --smoke             # 20,000 relations (tests)
    .venv/bin/python bench/dashboard.py --relations 200000  # another size
    .venv/bin/python bench/dashboard.py --json              # one JSON object of all figures

Builds a fresh database with one tenant (schema `benchdash`) and generates its history in
SQL: N relations (default 1,000,000) added uniformly over the last `--days` days (90) by
N / 250 guides in N / 20,000 stores of unequal size, 0.9 N customers (a tenth of them with
two guides), 70 % of relations brought by one of 30 channels (channel 1 the most common);
6 % deleted by the customer, 2 % by the guide, 0.5 % found gone by a sync, 1 % handed over
to a colleague (the taker's copy added at the takeover, as handover.transfer writes it),
each at a uniform time between the add and now; an `added` timeline entry per relation,
a note or message on the timeline of 10 % of customers in the last 60 days, paid orders for a
quarter of the customers over 180 days (a third of those with two or more, 5 % refunded),
custom events for 5 %; three handovers in progress and five group sends this week. Every
value comes from a hash of the row's key, so a size always gives the same data. Then, in the
tenant's schema:

1. build: `dashboard_backfill` (every day from the first relation's), seconds and
   relations read per second, the rows of the daily tables; the periodic refresh (today
   and yesterday) p50 over five runs; the lifecycle stages of every customer
   (`customer_stages_recompute`, the first run: every stage written), seconds; then
   `VACUUM (ANALYZE)` of those tables, as autovacuum would leave them;
2. latency, for several filters (date range and store): the console home through the
   Django test client (logged in, the whole page: middleware, every query, the template)
   and `relation_numbers` alone, `--repeat` times each (after one warm-up): p50 / p95;
   the **baseline**, measured the same way in the same run (`--baseline-repeat` times):
   `dashboard.direct.direct_numbers`, the same numbers from GROUP BYs over
   `contacts_relation`; the ratio of the baseline's p50 to the aggregated one's and to the
   page's;
3. correctness: for every filter the aggregated numbers (growth per day, top channels,
   guides by adds and by losses) must equal the direct count, and the page must make the
   same number of queries for every filter. A difference prints `FAIL: ...` and the exit
   code is 1.

Its Redis database is REDIS_DB (the demo 0, test slots 9-15 and 4, the other benches
2, 3, 5-8), emptied at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callbacks import admin_sql, services_env  # noqa: E402
from bench.contacts_sync import (  # noqa: E402
    database_size,
    disk_available,
    number,
    secondary_indexes,
    stopwatch,
    timings,
)
from bench.segments import configure as segments_configure  # noqa: E402

REDIS_DB = 1
SCHEMA = "benchdash"
HOST = "benchdash.localhost"
ADMIN_USERNAME = "benchadmin"
ADMIN_PASSWORD = "bench-Admin-password-42"  # noqa: S105 - a throwaway database
CHANNELS = 30
SMOKE_RELATIONS = 20_000
TABLES = (
    "contacts_store",
    "contacts_guide",
    "contacts_customer",
    "contacts_relation",
    "contacts_customerevent",
)


def log(message: str) -> None:
    print(f"[dashboard] {message}", file=sys.stderr, flush=True)


# --- environment ---------------------------------------------------------------------------


def configure(base: dict[str, str], db_name: str) -> None:
    """Point this process at the bench database, and Redis at our own database REDIS_DB."""
    segments_configure(base, db_name, redis_db=REDIS_DB)


def flush_redis() -> None:
    with contextlib.suppress(Exception):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


def create_tenant() -> None:
    """Migrate the fresh database; the public tenant, and ours with an admin."""
    from django.core.management import call_command

    from tenants.models import Domain, Tenant
    from tenants.services import tenant_create

    with contextlib.redirect_stdout(sys.stderr):
        call_command("migrate_schemas", verbosity=0)
        public = Tenant(schema_name="public", name="Platform")
        public.save()
        Domain.objects.create(domain="localhost", tenant=public, is_primary=True)
        tenant_create(
            name="Bench dashboard",
            schema_name=SCHEMA,
            domain=HOST,
            admin_username=ADMIN_USERNAME,
            admin_password=ADMIN_PASSWORD,
        )


# --- generated data ------------------------------------------------------------------------

UNIFORM = """
CREATE FUNCTION pg_temp.bench_u(x bigint, seed bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (hashint8extended(x, seed) & 2147483647)::float8 / 2147483648 $$
"""

DIRECTORY_SQL = """
INSERT INTO contacts_store (id, department_id, name, parent_department_id, "order", synced_at)
SELECT d, d, '门店' || lpad(d::text, 3, '0'), NULL, d, now()
FROM generate_series(1, %(stores)s) d;
-- Store sizes differ: low store ids get more guides.
INSERT INTO contacts_guide (id, userid, name, position, store_id, department_ids, status,
                            departed_at, customer_contact, created_at, synced_at)
SELECT g, 'guide' || lpad(g::text, 5, '0'), '导购' || g, '', s.id, ARRAY[s.id]::bigint[],
       'active', NULL, true, now(), now()
FROM generate_series(1, %(guides)s) g
CROSS JOIN LATERAL (
    SELECT 1 + least(%(stores)s - 1, floor(%(stores)s * pg_temp.bench_u(g, 1) ^ 1.5)::int) AS id
) s;
"""

CUSTOMERS_SQL = """
INSERT INTO contacts_customer (id, external_userid, name, avatar, type, gender, unionid,
    corp_name, position, last_added_at, created_at, updated_at)
SELECT i, 'wm' || substr(md5(i::text), 1, 30), '客户' || i, '', 1, 0, '', '', '',
       %(now)s, %(now)s, %(now)s
FROM generate_series(%(low)s::bigint, %(high)s) i
"""

# Customers 1..c2 have two relations (j = 0, 1), the others one.
RELATIONS_SQL = """
INSERT INTO contacts_relation (guide_id, customer_id, remark, description, remark_corp_name,
    remark_mobiles, add_way, state, channel_id, state_unknown, oper_userid, wecom_tag_ids,
    added_at, status, status_changed_at, deleted_at, confirmed_at, updated_at)
SELECT r.guide, i, '', '', '', '{}', 1, '', r.channel, false, '', '{}', r.added, r.status,
       CASE WHEN r.status = 'active' THEN r.added ELSE r.ended END,
       CASE WHEN r.status = 'active' THEN NULL ELSE r.ended END,
       %(now)s, %(now)s
FROM generate_series(%(low)s::bigint, %(high)s) i
CROSS JOIN LATERAL generate_series(0, CASE WHEN i <= %(c2)s THEN 1 ELSE 0 END) j
CROSS JOIN LATERAL (SELECT i * 2 + j AS x) k
CROSS JOIN LATERAL (
    SELECT pg_temp.bench_u(k.x, 21) AS a, pg_temp.bench_u(k.x, 22) AS s,
           pg_temp.bench_u(k.x, 23) AS c, pg_temp.bench_u(k.x, 24) AS e,
           pg_temp.bench_u(i, 25) AS g) u  -- g per customer: its two guides differ
CROSS JOIN LATERAL (
    SELECT 1 + (floor(u.g * %(guides)s)::bigint + j * (%(guides)s / 2)) %% %(guides)s AS guide,
           CASE WHEN u.c < 0.7
                THEN (%(channels)s::bigint[])[1 + floor(%(channel_count)s * (u.c / 0.7) ^ 2)::int]
           END AS channel,
           %(now)s - u.a * %(span)s::interval AS added,
           %(now)s - u.a * %(span)s::interval + u.e * u.a * %(span)s::interval AS ended,
           CASE WHEN u.s < 0.06 THEN 'deleted_by_customer'
                WHEN u.s < 0.08 THEN 'deleted_by_guide'
                WHEN u.s < 0.085 THEN 'vanished'
                WHEN u.s < 0.095 THEN 'transferred'
                ELSE 'active' END AS status) r
"""

# The takeover guide's copy of each transferred relation (handover.transfer.relations_move):
# another guide (a quarter of the guides away: never the customer's other guide).
TAKEOVERS_SQL = """
INSERT INTO contacts_relation (guide_id, customer_id, remark, description, remark_corp_name,
    remark_mobiles, add_way, state, channel_id, state_unknown, oper_userid, wecom_tag_ids,
    added_at, status, status_changed_at, deleted_at, confirmed_at, updated_at)
SELECT 1 + (guide_id - 1 + %(guides)s / 4) %% %(guides)s, customer_id, '', '', '', '{}', 1,
       '', channel_id, false, '', '{}', deleted_at, 'active', deleted_at, NULL,
       %(now)s, %(now)s
FROM contacts_relation WHERE status = 'transferred'
"""

TIMELINE_SQL = """
INSERT INTO contacts_customerevent (customer_id, kind, occurred_at, guide_id, data,
                                    dedupe_key, created_at)
SELECT customer_id, 'added', added_at, guide_id, '{}', NULL, %(now)s FROM contacts_relation;
INSERT INTO contacts_customerevent (customer_id, kind, occurred_at, guide_id, data,
                                    dedupe_key, created_at)
SELECT i, CASE WHEN pg_temp.bench_u(i, 41) < 0.5 THEN 'note' ELSE 'message' END,
       %(now)s - pg_temp.bench_u(i, 42) * interval '60 days', NULL, '{}', NULL, %(now)s
FROM generate_series(1, %(customers)s) i
WHERE pg_temp.bench_u(i, 40) < 0.1;
"""


def orders_and_events(customers: int, now: Any) -> dict[str, int]:
    """Orders and custom events through the ORM (bulk_create: the orders app's defaults)."""
    from orders.models import CustomEvent, Order

    rng = random.Random(7)
    orders: list[Order] = []
    events: list[CustomEvent] = []
    made = {"orders": 0, "custom_events": 0}

    def flush(force: bool = False) -> None:
        if force or len(orders) >= 20_000:
            Order.objects.bulk_create(orders, batch_size=5000)
            made["orders"] += len(orders)
            orders.clear()
        if force or len(events) >= 20_000:
            CustomEvent.objects.bulk_create(events, batch_size=5000)
            made["custom_events"] += len(events)
            events.clear()

    for customer_id in range(1, customers + 1):
        draw = rng.random()
        if draw < 0.25:
            count = 1 if draw < 0.17 else rng.randint(2, 4)
            for n in range(count):
                orders.append(
                    Order(
                        customer_id=customer_id,
                        source="bench",
                        order_id=f"B{customer_id}-{n}",
                        amount=Decimal("199.00"),
                        paid_at=now - timedelta(days=rng.random() * 180),
                        status="refunded" if rng.random() < 0.05 else "paid",
                    )
                )
        if rng.random() < 0.05:
            events.append(
                CustomEvent(
                    customer_id=customer_id,
                    type="coupon_used",
                    occurred_at=now - timedelta(days=rng.random() * 60),
                )
            )
        flush()
    flush(force=True)
    return made


def work_in_progress(now: Any) -> None:
    """Three handovers in progress with their items, five group sends this week."""
    from broadcast.models import Broadcast
    from contacts.models import Guide
    from handover.models import Handover, TransferItem

    guides = list(Guide.objects.order_by("pk")[:6])
    for n in range(3):
        handover = Handover.objects.create(
            kind=Handover.Kind.RESIGNED, status=Handover.Status.WAITING, trigger="operator"
        )
        handover.from_guides.add(guides[n])
        TransferItem.objects.bulk_create(
            TransferItem(
                handover=handover,
                external_id=f"wmHANDOVER{n}-{i}",
                from_guide=guides[n],
                to_guide=guides[n + 3],
                status="accepted" if i % 3 else "waiting",
            )
            for i in range(300)
        )
    Broadcast.objects.bulk_create(
        Broadcast(
            name=f"本周群发{n}",
            audience="segment",
            status=Broadcast.Status.WAITING,
            counts={"sent": 1000 * n, "waiting": 500},
            created_at=now - timedelta(hours=n),
        )
        for n in range(5)
    )


def generate(relations: int, days: int) -> dict[str, Any]:
    """The tenant's history straight into its tables (see the module docstring)."""
    from django.db import connection
    from django.utils import timezone

    from channels_qr.models import Channel

    now = timezone.now()
    stores = max(5, relations // 20_000)
    guides = max(40, relations // 250)
    c2 = relations // 10
    customers = relations - c2
    channels = [
        c.pk
        for c in Channel.objects.bulk_create(Channel(name=f"渠道{n:02d}") for n in range(1, 31))
    ]
    chunk = 500_000
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(UNIFORM)
        cursor.execute("SET session_replication_role = replica")  # no FK triggers per row
        dropped = secondary_indexes(cursor, list(TABLES), SCHEMA)
        for _table, name, _definition in dropped:
            if name.startswith("CONSTRAINT "):
                cursor.execute(f"ALTER TABLE {_table} DROP {name}")
            else:
                cursor.execute(f"DROP INDEX {name}")
        with stopwatch() as load_time:
            cursor.execute(DIRECTORY_SQL, {"stores": stores, "guides": guides})
            for low in range(1, customers + 1, chunk):
                high = min(customers, low + chunk - 1)
                params = {
                    "low": low,
                    "high": high,
                    "c2": c2,
                    "now": now,
                    "guides": guides,
                    "channels": channels,
                    "channel_count": CHANNELS,
                    "span": f"{days} days",
                }
                cursor.execute(CUSTOMERS_SQL, params)
                cursor.execute(RELATIONS_SQL, params)
                log(f"generated customers {low:,}-{high:,}")
            cursor.execute(TAKEOVERS_SQL, {"guides": guides, "now": now})
            cursor.execute(TIMELINE_SQL, {"now": now, "customers": customers})
        with stopwatch() as index_time:
            for table, name, definition in dropped:
                if name.startswith("CONSTRAINT "):
                    cursor.execute(f"ALTER TABLE {table} ADD {name} {definition}")
                else:
                    cursor.execute(definition)
            for table in TABLES:
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                cursor.execute(f"SELECT setval({sequence}, max(id)) FROM {table}")  # noqa: S608
            cursor.execute("SET session_replication_role = DEFAULT")
    log(f"relations loaded in {load_time[0]:.0f} s, indexes {index_time[0]:.0f} s")
    with stopwatch() as orders_time:
        made = orders_and_events(customers, now)
        work_in_progress(now)
    with connection.cursor() as cursor:
        for table in (*TABLES, "orders_order", "orders_customevent"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE status = 'active'),
                   count(*) FILTER (WHERE channel_id IS NOT NULL),
                   count(*) FILTER (WHERE status = 'transferred')
            FROM contacts_relation
            """
        )
        row = cursor.fetchone()
    assert row is not None
    total, active, with_channel, transferred = (int(v) for v in row)
    return {
        "relations": total,
        "customers": customers,
        "guides": guides,
        "stores": stores,
        "channels": CHANNELS,
        "days": days,
        "active_share": round(active / total, 3),
        "channel_share": round(with_channel / total, 3),
        "handed_over": transferred,
        **made,
        "load_seconds": round(load_time[0], 1),
        "index_seconds": round(index_time[0], 1),
        "orders_seconds": round(orders_time[0], 1),
    }


# --- build ---------------------------------------------------------------------------------


def build(days: int) -> dict[str, Any]:
    """The backfill, the periodic refresh and the stages, timed."""
    from django.db import connection
    from django.utils import timezone

    from dashboard.aggregates import dashboard_backfill, dashboard_refresh
    from dashboard.models import ChannelDay, GuideDay, StoreDay
    from lifecycle.stages import customer_stages_recompute

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_relation")
        row = cursor.fetchone()
    relations = int(row[0]) if row else 0
    backfill = dashboard_backfill()
    log(f"backfill: {backfill.days} days in {backfill.seconds:.1f} s")
    refresh_samples = []
    for _ in range(5):
        refreshed = dashboard_refresh()
        refresh_samples.append(refreshed.seconds * 1000)
    with stopwatch() as stages_time:
        stages = customer_stages_recompute()
    log(f"stages: {stages.counts} in {stages_time[0]:.1f} s")
    # Steady state, as autovacuum leaves the tables: statistics, and a visibility map for
    # index-only scans of the covering indexes.
    with connection.cursor() as cursor:
        for table in ("storeday", "channelday", "guideday", "channelmonth", "guidemonth"):
            cursor.execute(f"VACUUM (ANALYZE) dashboard_{table}")
        cursor.execute("VACUUM (ANALYZE) lifecycle_customerstage")
    return {
        "backfill_days": backfill.days,
        "backfill_seconds": round(backfill.seconds, 2),
        "relations_per_second": round(relations / backfill.seconds),
        "rows": {
            "store_day": StoreDay.objects.count(),
            "channel_day": ChannelDay.objects.count(),
            "guide_day": GuideDay.objects.count(),
        },
        "refresh_recent_ms": {
            "p50": round(sorted(refresh_samples)[len(refresh_samples) // 2], 1),
            "max": round(max(refresh_samples), 1),
        },
        "stages_seconds": round(stages_time[0], 2),
        "stages_changed": stages.changed,
        "stage_counts": stages.counts,
        "today": timezone.localdate().isoformat(),
    }


# --- latency and correctness ---------------------------------------------------------------


def cases(days: int) -> list[dict[str, Any]]:
    """Filters an operator would pick: the default 30 days, the whole history, the maximum
    range, a week of the largest store, a quarter of a small store."""
    from django.db.models import Count
    from django.utils import timezone

    from contacts.models import Store
    from dashboard.selectors import DAYS_MAX

    today = timezone.localdate()
    by_size = list(
        Store.objects.annotate(n=Count("guides")).order_by("-n", "pk").values_list("pk", "n")
    )
    largest, small = by_size[0], by_size[len(by_size) * 3 // 4]

    def span(n: int) -> tuple[Any, Any]:
        return today - timedelta(days=n - 1), today

    return [
        {"case": "30 days, all stores", "range": span(30), "store": None},
        {"case": f"{days} days, all stores", "range": span(days), "store": None},
        {"case": f"{DAYS_MAX} days, all stores", "range": span(DAYS_MAX), "store": None},
        {
            "case": f"7 days, largest store ({largest[1]} guides)",
            "range": span(7),
            "store": largest[0],
        },
        {
            "case": f"{days} days, a small store ({small[1]} guides)",
            "range": span(days),
            "store": small[0],
        },
    ]


def measure(repeat: int, baseline_repeat: int, days: int, failures: list[str]) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import schema_context

    from accounts.models import User
    from dashboard.direct import direct_numbers, numbers_differences
    from dashboard.selectors import DashboardFilters, relation_numbers

    client = Client(HTTP_HOST=HOST)
    with schema_context(SCHEMA):
        client.force_login(User.objects.get(username=ADMIN_USERNAME))
        chosen_cases = cases(days)
    results: dict[str, Any] = {}
    query_counts = set()
    for case in chosen_cases:
        start, end = case["range"]
        filters = DashboardFilters(start=start, end=end, store_id=case["store"])
        url = f"/?from={start.isoformat()}&to={end.isoformat()}"
        if case["store"]:
            url += f"&store={case['store']}"

        def page(chosen: str = url) -> None:
            response = client.get(chosen)
            if response.status_code != 200:
                raise RuntimeError(f"{chosen}: HTTP {response.status_code}")

        def aggregated(chosen: DashboardFilters = filters) -> None:
            relation_numbers(chosen)

        def direct(chosen: DashboardFilters = filters) -> None:
            direct_numbers(chosen)

        with CaptureQueriesContext(connection) as captured:
            page()
        query_counts.add(len(captured))
        row: dict[str, Any] = {"url": url, "queries": len(captured)}
        row["page"] = timings(page, repeat)
        with schema_context(SCHEMA):
            row["aggregated"] = timings(aggregated, repeat)
            row["baseline"] = timings(direct, baseline_repeat)
            numbers = relation_numbers(filters)
            differences = numbers_differences(numbers, direct_numbers(filters))
        row["baseline_over_aggregated"] = round(
            row["baseline"]["p50_ms"] / row["aggregated"]["p50_ms"], 1
        )
        row["baseline_over_page"] = round(row["baseline"]["p50_ms"] / row["page"]["p50_ms"], 1)
        row["adds"] = numbers.total.adds
        row["lost"] = numbers.total.lost
        row["equal"] = not differences
        failures += [f"{case['case']}: {d}" for d in differences]
        results[case["case"]] = row
        log(
            f"{case['case']}: page {row['page']['p50_ms']} / {row['page']['p95_ms']} ms, "
            f"aggregated {row['aggregated']['p50_ms']} ms, baseline "
            f"{row['baseline']['p50_ms']} ms, {'equal' if row['equal'] else 'DIFFERENT'}"
        )
    if len(query_counts) != 1:
        failures.append(f"the page's query count depends on the filter: {sorted(query_counts)}")
    return results


# --- report --------------------------------------------------------------------------------


def print_report(figures: dict[str, Any]) -> None:
    out: list[str] = []
    data, built = figures["data"], figures["build"]
    out.append(
        f"data: {number(data['relations'])} relations of {number(data['customers'])} customers "
        f"over {data['days']} days, {number(data['guides'])} guides in {data['stores']} stores, "
        f"{data['channels']} channels ({data['channel_share']:.0%} of relations); "
        f"{data['active_share']:.1%} active, {number(data['handed_over'])} handed over; "
        f"{number(data['orders'])} orders, {number(data['custom_events'])} custom events"
    )
    out.append(
        f"  generated in {data['load_seconds']} s, indexes {data['index_seconds']} s, orders "
        f"{data['orders_seconds']} s; database {figures['database_bytes'] / 1e9:.2f} GB"
    )
    rows = built["rows"]
    out.append(
        f"build: dashboard_backfill {built['backfill_days']} days in {built['backfill_seconds']} s "
        f"= {number(built['relations_per_second'])} relations/s; rows: {number(rows['store_day'])} "
        f"store-days, {number(rows['channel_day'])} channel-days, {number(rows['guide_day'])} "
        f"guide-days"
    )
    out.append(
        f"  periodic refresh (today + yesterday): p50 {built['refresh_recent_ms']['p50']} ms, "
        f"max {built['refresh_recent_ms']['max']} ms; lifecycle stages of every customer: "
        f"{built['stages_seconds']} s ({built['stage_counts']})"
    )
    out.append(
        f"latency, ms p50 / p95 (page and aggregated: {figures['repeat']} runs, baseline: "
        f"{figures['baseline_repeat']} runs, after 1 warm-up):"
    )
    out.append(
        f"  {'':40}{'page':>18}{'aggregated':>18}{'baseline (direct)':>20}{'x agg':>8}"
        f"{'x page':>8}{'queries':>9}"
    )
    for name, row in figures["latency"].items():
        page, agg, base = row["page"], row["aggregated"], row["baseline"]
        out.append(
            f"  {name:40}{page['p50_ms']:>9.1f} /{page['p95_ms']:>7.1f}"
            f"{agg['p50_ms']:>9.1f} /{agg['p95_ms']:>7.1f}"
            f"{base['p50_ms']:>11.1f} /{base['p95_ms']:>7.1f}"
            f"{row['baseline_over_aggregated']:>8.1f}{row['baseline_over_page']:>8.1f}"
            f"{row['queries']:>9}"
        )
    equal = all(row["equal"] for row in figures["latency"].values())
    out.append(
        "check: aggregated numbers "
        + ("equal the direct count for every filter" if equal else "DIFFER from the direct count")
    )
    for failure in figures["failures"]:
        out.append(f"FAIL: {failure}")
    print("\n".join(out))


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--relations", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90, help="days of history")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_RELATIONS:,} relations")
    parser.add_argument("--repeat", type=int, default=50, help="timed page loads per filter")
    parser.add_argument("--baseline-repeat", type=int, default=10, help="timed direct counts")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.relations, args.repeat = SMOKE_RELATIONS, min(args.repeat, 5)
        args.baseline_repeat = min(args.baseline_repeat, 3)

    base = services_env()
    db_name = f"scrm_bench_dashboard_{uuid.uuid4().hex[:8]}"
    needed = args.relations * 1500  # about 1 kB per relation with its customer and events
    if disk_available() < 2 * needed + 5e9:
        sys.exit(f"{args.relations:,} relations need about {needed / 1e9:.1f} GB free, twice")
    admin_sql(base["DATABASE_URL"], f'CREATE DATABASE "{db_name}"')
    failures: list[str] = []
    figures: dict[str, Any] = {
        "repeat": args.repeat,
        "baseline_repeat": args.baseline_repeat,
        "failures": failures,
    }
    started = time.monotonic()
    try:
        configure(base, db_name)
        from django_tenants.utils import schema_context

        log(f"database {db_name}: migrating")
        create_tenant()
        with schema_context(SCHEMA):
            log(f"generating {args.relations:,} relations over {args.days} days")
            figures["data"] = generate(args.relations, args.days)
            figures["database_bytes"] = database_size(db_name)
            figures["build"] = build(args.days)
        figures["latency"] = measure(args.repeat, args.baseline_repeat, args.days, failures)
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        flush_redis()
        if args.keep_db:
            log(f"kept database {db_name}")
        else:
            admin_sql(base["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    figures["wall_seconds"] = round(time.monotonic() - started, 1)

    if args.json:
        print(json.dumps(figures, default=str))
    else:
        print_report(figures)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
