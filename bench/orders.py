"""Benchmark: importing historical orders from a CSV, batch pushes and the late re-match.

    .venv/bin/python bench/orders.py              # 100,000 customers, a 100,000-row CSV
    .venv/bin/python bench/orders.py --smoke      # 2,000 customers, 2,000 rows (tests)
    .venv/bin/python bench/orders.py --json       # one JSON object of all figures

Builds a fresh database with one tenant and, in SQL, N customers each held by one of N / 1,000
guides; a third of the relations carry a remark phone, and 1 % of those phones are carried by
two customers (ambiguous). Then, in the tenant's schema (issue #11):

1. CSV import: a file of R rows (60 % by external_userid, 20 % by phone, 10 % naming
   customers not there yet, 2 % by an ambiguous phone, 8 % bad: missing or invalid amounts,
   bad dates, no key, an order id repeated in the file) planned and imported by
   `orders.imports.order_import_run`, as the bulk worker runs it: rows/s, against the
   baseline measured in the same run, a plain `Order.objects.bulk_create` of as many orders;
2. the same file again: every good row updates its order, nothing is added;
3. batch pushes: `orders.services.orders_upsert` in batches of 500 (what
   `POST /api/v1/orders/batch/` calls), orders/s;
4. late matching: the missing customers are added (with their timeline entries, as a sync
   writes them) and `rematch_recent` matches their waiting orders: seconds and orders/s.

Correctness, checked at every size: the orders created, matched (by which key) and left
waiting, the rows refused with their reasons, one timeline entry per matched order (none
twice), nothing added by the second import, every waiting order matched after step 4.
A mismatch prints `FAIL: ...` and the exit code is 1. Nothing is written to Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callbacks import admin_sql, services_env  # noqa: E402
from bench.contacts_sync import SCHEMA, create_tenant, number, stopwatch  # noqa: E402
from bench.segments import configure  # noqa: E402  (its Redis database: never written here)

SMOKE = {"customers": 2000, "rows": 2000}
PHONE_SHARE = 3  # one relation in 3 carries a remark phone
AMBIGUOUS_EVERY = 100  # 1 % of phones are carried by two customers
PUSH_BATCH = 500


def log(message: str) -> None:
    print(f"[orders] {message}", file=sys.stderr, flush=True)


# --- data ----------------------------------------------------------------------------------


def phone_of(i: int) -> str:
    return f"139{i:08d}"


def generate(customers: int) -> dict[str, Any]:
    """Customers wmB<i>, guides, one relation each; relation i carries phone_of(i) when
    i % PHONE_SHARE == 0, and customer i + 1 carries it too when i % (3 * 100) == 0."""
    from django.db import connection

    guides = max(1, customers // 1000)
    with connection.cursor() as cursor, stopwatch() as spent:
        cursor.execute(
            "INSERT INTO contacts_guide (userid, name, position, department_ids, status,"
            " customer_contact, created_at) SELECT 'g' || g, 'guide ' || g, '', '{}',"
            " 'active', true, now() FROM generate_series(1, %s) g",
            [guides],
        )
        cursor.execute(
            "INSERT INTO contacts_customer (external_userid, name, avatar, type, gender, unionid,"
            " corp_name, position, last_added_at, created_at, updated_at)"
            " SELECT 'wmB' || i, 'customer ' || i, '', 1, 0, '', '', '', now(), now(), now()"
            " FROM generate_series(1, %s) i",
            [customers],
        )
        cursor.execute(
            """
            INSERT INTO contacts_relation (guide_id, customer_id, remark, description,
                remark_corp_name, remark_mobiles, add_way, state, state_unknown, oper_userid,
                wecom_tag_ids, added_at, status, confirmed_at, updated_at)
            SELECT g.id, c.id, '', '', '',
                CASE WHEN n %% %(share)s = 0 THEN ARRAY['139' || lpad(n::text, 8, '0')]
                     WHEN n %% (%(share)s * %(every)s) = 1
                     THEN ARRAY['139' || lpad((n - 1)::text, 8, '0')]
                     ELSE '{}' END::varchar(32)[],
                1, '', false, '', '{}', now(), 'active', now(), now()
            FROM (SELECT id, substr(external_userid, 4)::int AS n FROM contacts_customer) c
            JOIN contacts_guide g ON g.userid = 'g' || (1 + c.n %% %(guides)s)
            """,
            {"share": PHONE_SHARE, "every": AMBIGUOUS_EVERY, "guides": guides},
        )
        # As autovacuum would have by now: fresh rows sit in the GIN index's pending list,
        # which every phone lookup scans (310 ms against 38 ms for 1,500 phones, measured).
        for table in ("contacts_customer", "contacts_relation"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {"customers": customers, "guides": guides, "seconds": round(spent[0], 1)}


def csv_file(rows: int, customers: int) -> tuple[str, dict[str, Any]]:
    """The CSV and what importing it must give (order id -> expected match; refused lines)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["order_id", "external_userid", "phone", "amount", "paid_at", "status", "items"]
    )
    expected: dict[str, Any] = {"matched": {}, "waiting": set(), "ambiguous": set(), "bad": {}}
    phones = [i for i in range(1, customers + 1) if i % PHONE_SHARE == 0]
    ambiguous = [i for i in phones if i % (PHONE_SHARE * AMBIGUOUS_EVERY) == 0]
    plain_phones = [i for i in phones if i % (PHONE_SHARE * AMBIGUOUS_EVERY) != 0]
    start = datetime(2024, 1, 1, 9, 0)
    for n in range(rows):
        line = n + 2
        order_id = f"H{n:08d}"
        paid_at = (start + timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M:%S")
        kind = n % 50
        external_userid, phone, amount = "", "", f"{(n % 997) + 0.5:.2f}"
        if kind < 30:
            i = 1 + n % customers
            external_userid = f"wmB{i}"
            expected["matched"][order_id] = ("external_userid", f"wmB{i}")
        elif kind < 40:
            i = plain_phones[n % len(plain_phones)]
            phone = f"+86 {phone_of(i)[:3]}-{phone_of(i)[3:7]}-{phone_of(i)[7:]}"
            expected["matched"][order_id] = ("phone", f"wmB{i}")
        elif kind < 45:
            external_userid = f"wmLATE{n}"
            expected["waiting"].add(order_id)
        elif kind == 45:
            phone = phone_of(ambiguous[n % len(ambiguous)])
            expected["ambiguous"].add(order_id)
        else:
            external_userid = f"wmB{1 + n % customers}"
            if kind == 46:
                amount = "abc"
                expected["bad"][line] = "amount is not a number"
            elif kind == 47:
                paid_at = "31/12/2024"
                expected["bad"][line] = "paid_at is not a date"
            elif kind == 48:
                external_userid = ""
                expected["bad"][line] = "no customer key: give external_userid, unionid or phone"
            else:
                order_id = f"H{n - 1:08d}"  # the line before's order id again
                expected["bad"][line] = f"same order id as line {line - 1}"
        writer.writerow([order_id, external_userid, phone, amount, paid_at, "paid", "口红*1"])
    return out.getvalue(), expected


# --- phases --------------------------------------------------------------------------------


def run_import(text: str) -> tuple[Any, float]:
    from orders.imports import order_import_run
    from orders.models import OrderImport

    job = OrderImport.objects.create(file_name="bench.csv", content=text)
    with stopwatch() as spent:
        assert order_import_run(import_id=job.pk)
    job.refresh_from_db()
    return job, spent[0]


def baseline(count: int) -> float:
    """Seconds to bulk_create `count` plain orders (then removed)."""
    from orders.models import Order

    now = datetime.now().astimezone()
    orders = [
        Order(source="baseline", order_id=f"X{n}", amount=Decimal("1.00"), paid_at=now)
        for n in range(count)
    ]
    with stopwatch() as spent:
        Order.objects.bulk_create(orders, batch_size=2000)
    Order.objects.filter(source="baseline").delete()
    return spent[0]


def check_import(job: Any, expected: dict[str, Any], failures: list[str]) -> dict[str, Any]:
    from contacts.models import CustomerEvent
    from orders.models import Order

    orders: dict[str, dict[str, Any]] = {
        o["order_id"]: dict(o)
        for o in Order.objects.values(
            "order_id", "matched_by", "match_problem", "customer__external_userid"
        )
    }
    should = set(expected["matched"]) | expected["waiting"] | expected["ambiguous"]
    if set(orders) != should:
        failures.append(f"orders: {len(orders):,} imported, {len(should):,} expected")
    wrong = [
        order_id
        for order_id, (key, external_userid) in expected["matched"].items()
        if order_id in orders
        and (orders[order_id]["matched_by"], orders[order_id]["customer__external_userid"])
        != (key, external_userid)
    ]
    if wrong:
        failures.append(f"{len(wrong):,} orders matched wrongly, e.g. {wrong[:3]}")
    for order_id in expected["ambiguous"]:
        if orders.get(order_id, {}).get("match_problem") != "ambiguous_phone":
            failures.append(f"{order_id}: an ambiguous phone was matched")
            break
    for order_id in expected["waiting"]:
        if orders.get(order_id, {}).get("match_problem") != "not_found":
            failures.append(f"{order_id}: should wait for its customer")
            break
    refused = dict(job.rows.filter(status="invalid").values_list("line", "error"))
    if refused != expected["bad"]:
        extra = set(refused.items()) ^ set(expected["bad"].items())
        failures.append(f"refused rows differ: {sorted(extra)[:3]}")
    timeline = Counter(
        CustomerEvent.objects.filter(kind="order").values_list("dedupe_key", flat=True)
    )
    matched = sum(1 for o in orders.values() if o["matched_by"] != "none")
    if sum(timeline.values()) != matched or any(n > 1 for n in timeline.values()):
        failures.append(f"timeline: {sum(timeline.values()):,} entries for {matched:,} matched")
    return {"orders": len(orders), "matched": matched, "refused": len(refused)}


def push_batches(count: int, customers: int) -> dict[str, Any]:
    from django.utils import timezone

    from orders.matching import Keys
    from orders.services import OrderInput, orders_upsert

    now = timezone.now()
    inputs = [
        OrderInput(
            order_id=f"P{n}",
            source="api",
            keys=Keys(external_userid=f"wmB{1 + n % customers}"),
            values={
                "amount": Decimal("9.90"),
                "paid_at": now,
                "items": [{"name": "x", "quantity": 1}],
            },
        )
        for n in range(count)
    ]
    with stopwatch() as spent:
        for offset in range(0, count, PUSH_BATCH):
            orders_upsert(inputs=inputs[offset : offset + PUSH_BATCH])
    return {"orders": count, "seconds": round(spent[0], 2), "per_second": round(count / spent[0])}


def late_match(expected: dict[str, Any], failures: list[str]) -> dict[str, Any]:
    """Add the missing customers as a sync would (customer, relation, timeline entry), then
    the periodic re-match."""
    from django.db import connection

    from contacts.models import CustomerEvent
    from orders.models import MatchState, Order
    from orders.services import rematch_recent

    late = sorted(expected["waiting"])
    MatchState.objects.get_or_create(pk=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_customer (external_userid, name, avatar, type, gender, unionid,"
            " corp_name, position, last_added_at, created_at, updated_at)"
            " SELECT 'wmLATE' || substr(o, 2)::int, '', '', 1, 0, '', '', '', now(), now(), now()"
            " FROM unnest(%s::text[]) o",
            [late],
        )
        cursor.execute(
            "INSERT INTO contacts_customerevent (customer_id, kind, occurred_at, data, created_at)"
            " SELECT id, 'added', now(), '{}', now() - interval '5 minutes'"
            " FROM contacts_customer WHERE external_userid LIKE 'wmLATE%%'"
        )
    newest = CustomerEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with stopwatch() as spent:
        matched = 0
        # as the periodic task runs, until its watermark passes the new customers' entries
        while MatchState.objects.get().last_event_id < newest:
            matched += rematch_recent(settle=timedelta(0))
    waiting = Order.objects.filter(order_id__in=late, customer__isnull=True).count()
    if waiting or matched != len(late):
        failures.append(f"late matching: {matched:,} matched, {waiting:,} still waiting")
    return {
        "orders": len(late),
        "matched": matched,
        "seconds": round(spent[0], 2),
        "per_second": round(matched / spent[0]) if spent[0] else 0,
    }


# --- report --------------------------------------------------------------------------------


def print_report(figures: dict[str, Any]) -> None:
    data, first, again = figures["data"], figures["import"], figures["reimport"]
    print(f"data: {number(data['customers'])} customers, {number(data['guides'])} guides")
    print(
        f"CSV import: {number(first['rows'])} rows in {first['seconds']} s = "
        f"{number(first['rows_per_second'])} rows/s ({number(first['created'])} created, "
        f"{number(first['refused'])} refused, {number(first['matched'])} matched)"
    )
    print(
        f"baseline: bulk_create of {number(first['created'])} orders in "
        f"{figures['baseline']['seconds']} s = {number(figures['baseline']['per_second'])} "
        f"orders/s; import / baseline: {figures['baseline']['import_over_baseline']}x the time"
    )
    print(
        f"same file again: {again['seconds']} s, {number(again['updated'])} updated, "
        f"{number(again['added'])} added"
    )
    push = figures["push"]
    print(
        f"batch pushes of {PUSH_BATCH}: {number(push['orders'])} orders "
        f"= {number(push['per_second'])}/s"
    )
    late = figures["late_match"]
    print(
        f"late matching: {number(late['matched'])} waiting orders matched in {late['seconds']} s "
        f"= {number(late['per_second'])}/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true", help="2,000 customers and rows")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.customers, args.rows = SMOKE["customers"], SMOKE["rows"]

    base = services_env()
    db_name = f"scrm_bench_orders_{uuid.uuid4().hex[:8]}"
    admin_sql(base["DATABASE_URL"], f'CREATE DATABASE "{db_name}"')
    failures: list[str] = []
    figures: dict[str, Any] = {"failures": failures}
    try:
        configure(base, db_name)
        from django_tenants.utils import schema_context

        log(f"database {db_name}: migrating")
        create_tenant()
        with schema_context(SCHEMA):
            from orders.models import Order

            log(f"generating {args.customers:,} customers")
            figures["data"] = generate(args.customers)
            text, expected = csv_file(args.rows, args.customers)
            log(f"importing {args.rows:,} rows")
            job, seconds = run_import(text)
            checked = check_import(job, expected, failures)
            figures["import"] = {
                "rows": args.rows,
                "seconds": round(seconds, 2),
                "rows_per_second": round(args.rows / seconds),
                "created": job.rows.filter(status="created").count(),
                **checked,
            }
            base_seconds = baseline(figures["import"]["created"])
            figures["baseline"] = {
                "seconds": round(base_seconds, 2),
                "per_second": round(figures["import"]["created"] / base_seconds),
                "import_over_baseline": round(seconds / base_seconds, 1),
            }
            before = Order.objects.count()
            log("importing the same file again")
            again, again_seconds = run_import(text)
            statuses = Counter(again.rows.values_list("status", flat=True))
            added = Order.objects.count() - before
            if added or statuses["created"]:
                failures.append(f"the second import added {added:,} orders")
            if statuses["updated"] != figures["import"]["created"]:
                failures.append(f"the second import updated {statuses['updated']:,} orders")
            figures["reimport"] = {
                "seconds": round(again_seconds, 2),
                "updated": statuses["updated"],
                "added": added,
            }
            check_import(job, expected, failures)
            log("batch pushes")
            figures["push"] = push_batches(min(args.rows, 20_000), args.customers)
            log("late matching")
            figures["late_match"] = late_match(expected, failures)
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
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
