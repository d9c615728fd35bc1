"""Benchmark: segment counts and materialising a segment, against count(*) of relations.

    .venv/bin/python bench/segments.py                     # 1,000,000 relations, 200 tags
    .venv/bin/python bench/segments.py --smoke             # 20,000 relations (tests)
    .venv/bin/python bench/segments.py --relations 200000  # another size
    .venv/bin/python bench/segments.py --json              # one JSON object of all figures

Builds a fresh database with one tenant and generates its contact book in SQL: N relations
(default 1,000,000) of 0.6 N customers (0.35 N held by one guide, 0.1 N by two, 0.15 N by
three), N / 1,000 guides in N / 10,000 stores of unequal size, 200 tags in 10 groups on
0-5 tags per relation with a Zipf-like popularity, 8 % of relations ended, added over two
years, 20 channels with 41 live codes whose states 40 % of relations carry. Then, in the
tenant's schema (issue #6):

1. `tagging.segments.segment_count` for typical definitions: matched customers, p50 / p95
   over `--repeat` runs, and the ratio to the baseline, a plain `SELECT count(*) FROM
   contacts_relation` timed the same way in the same run;
2. materialising a saved segment of at least 0.5 N customers:
   `tagging.bulk.bulk_job_from_segment` (one BulkTagRow per active relation of the
   segment's customers), against `CREATE TEMP TABLE ... AS SELECT id` of the same customers
   and of the job's own relation query;
3. correctness: up to 200,000 relations (or with --brute-force) every definition's
   customers are compared with a brute-force evaluation in Python over the generated rows
   (and the job's rows with the active relations of those customers); at any size the
   job's row count must equal the active relations of the segment's customers counted in
   one SQL. Exit 1 on a mismatch.

The job's Celery task goes to this script's own Redis database, which nothing consumes and
which is emptied at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callbacks import admin_sql, services_env, with_path  # noqa: E402
from bench.contacts_sync import (  # noqa: E402
    GENERATED_TABLES,
    SCHEMA,
    create_tenant,
    database_size,
    disk_available,
    number,
    secondary_indexes,
    stopwatch,
    timings,
)

REDIS_DB = 6  # the demo 0, bench/contacts_sync.py 7, bench/callbacks.py 8, test slots 9-14
TAGS = 200
TAG_GROUPS: tuple[str, ...] = ("客户等级", "兴趣", "购买阶段", "来源", "会员")
TAG_GROUPS += ("季节", "品类偏好", "地区", "年龄段", "状态")
CHANNELS = 20
SMOKE_RELATIONS = 20_000
BRUTE_FORCE_MAX = 200_000  # relations: above this the checks are SQL only (unless asked)
# Tag ranks by popularity (1 = most used). Rank r is drawn with probability ln((r+1)/r) /
# ln(201): 13 % of draws for rank 1, 1.4 % for rank 13, 0.3 % for rank 60.
POPULAR, STORE_TAGS, OR_TAG, DND, RARE = 1, (2, 3), 5, 40, (60, 80)
BIG_SHARE = 0.51  # the big segment: at least this many customers per relation (510,000 at 1M)


def log(message: str) -> None:
    print(f"[segments] {message}", file=sys.stderr, flush=True)


def tag_id(rank: int) -> str:
    """WeCom-like corp tag ids (et + 22 characters)."""
    return "et" + hashlib.md5(f"bench-tag-{rank}".encode()).hexdigest()[:22]  # noqa: S324


def tag_group(rank: int) -> int:
    """Popular tags spread over the groups; rank 40 (do-not-disturb) is in 状态."""
    return (rank - 1) % len(TAG_GROUPS)


# --- environment ---------------------------------------------------------------------------


def configure(base: dict[str, str], db_name: str, redis_db: int = REDIS_DB) -> None:
    """Point this process at the bench database, and Celery at the bench's Redis database."""
    redis_url = with_path(base["REDIS_URL"], f"/{redis_db}")
    os.environ.update({k: v for k, v in base.items() if k != "DJANGO_SETTINGS_MODULE"})
    os.environ.update(
        DJANGO_SETTINGS_MODULE="scrm.settings.base",
        SCRM_ENV="development",
        SCRM_SERVICES_ENV=str(ROOT / ".local" / "none.env"),
        DATABASE_URL=with_path(base["DATABASE_URL"], f"/{db_name}"),
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def forget_queued_tasks() -> None:
    """Drop the bulk job tasks this run queued: the database is ours (REDIS_DB)."""
    with contextlib.suppress(Exception):
        import redis

        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()


# --- generated data ------------------------------------------------------------------------

UNIFORM = """
CREATE FUNCTION pg_temp.bench_u(x bigint, seed bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (hashint8extended(x, seed) & 2147483647)::float8 / 2147483648 $$
"""

# One relation per (customer i, j); customers 1..c3 have j = 0..2, then c2 more j = 0..1.
# bench_u(key, seed) is a uniform number in [0, 1) fixed by the key, so a run is repeatable.
EXTRA_RELATIONS = "CASE WHEN i <= %(c3)s THEN 2 WHEN i <= %(c3)s + %(c2)s THEN 1 ELSE 0 END"

CUSTOMERS_SQL = f"""
INSERT INTO contacts_customer (id, external_userid, name, avatar, type, gender, unionid,
    corp_name, position, last_added_at, created_at, updated_at)
SELECT i, 'wm' || substr(md5(i::text), 1, 30), '客户' || i, '',
       CASE WHEN pg_temp.bench_u(i, 11) < 0.9 THEN 1 ELSE 2 END,
       CASE WHEN pg_temp.bench_u(i, 12) < 0.3 THEN 0
            WHEN pg_temp.bench_u(i, 12) < 0.55 THEN 1 ELSE 2 END,
       '', '', '', last.added, %(now)s, %(now)s
FROM generate_series(%(low)s::bigint, %(high)s) i
CROSS JOIN LATERAL (
    SELECT max(%(now)s - pg_temp.bench_u(i * 4 + j, 21) * interval '730 days') AS added
    FROM generate_series(0, {EXTRA_RELATIONS}) j) last
"""  # noqa: S608 - a constant fragment

RELATIONS_SQL = f"""
INSERT INTO contacts_relation (guide_id, customer_id, remark, description, remark_corp_name,
    remark_mobiles, add_way, state, oper_userid, wecom_tag_ids, added_at, status,
    status_changed_at, deleted_at, confirmed_at, updated_at)
SELECT 1 + (floor(pg_temp.bench_u(i, 31) * %(guides)s)::bigint
            + j * (%(guides)s / 3)) %% %(guides)s,
       i, '', '', '', '{{}}',
       CASE WHEN u.w < 0.5 THEN 1 WHEN u.w < 0.65 THEN 2 WHEN u.w < 0.75 THEN 3
            WHEN u.w < 0.8 THEN 4 WHEN u.w < 0.9 THEN 6 WHEN u.w < 0.95 THEN 7 ELSE 0 END,
       CASE WHEN u.c < 0.4
            THEN (%(states)s::text[])[1 + floor(%(codes)s * (u.c / 0.4) ^ 2)::int]
            WHEN u.c < 0.45 THEN 'old_' || (k.x %% 5)
            ELSE '' END,
       '',
       ARRAY(SELECT DISTINCT
                    (%(tags)s::text[])[floor(exp(pg_temp.bench_u(k.x * 8 + t, 41)
                                                 * ln(%(tag_count)s + 1)))::int]
             FROM generate_series(1, CASE WHEN u.k < 0.25 THEN 0 WHEN u.k < 0.5 THEN 1
                                          WHEN u.k < 0.7 THEN 2 WHEN u.k < 0.85 THEN 3
                                          WHEN u.k < 0.95 THEN 4 ELSE 5 END) t),
       r.added, r.status,
       CASE WHEN r.status <> 'active' THEN r.added + u.e * (%(now)s - r.added) ELSE r.added END,
       CASE WHEN r.status LIKE 'deleted%%' THEN r.added + u.e * (%(now)s - r.added) END,
       %(now)s, %(now)s
FROM generate_series(%(low)s::bigint, %(high)s) i
CROSS JOIN LATERAL generate_series(0, {EXTRA_RELATIONS}) j
CROSS JOIN LATERAL (SELECT i * 4 + j AS x) k
CROSS JOIN LATERAL (
    SELECT pg_temp.bench_u(k.x, 21) AS a, pg_temp.bench_u(k.x, 22) AS s,
           pg_temp.bench_u(k.x, 23) AS w, pg_temp.bench_u(k.x, 24) AS c,
           pg_temp.bench_u(k.x, 25) AS k, pg_temp.bench_u(k.x, 26) AS e) u
CROSS JOIN LATERAL (
    SELECT %(now)s - u.a * interval '730 days' AS added,
           CASE WHEN u.s < 0.05 THEN 'deleted_by_customer'
                WHEN u.s < 0.07 THEN 'deleted_by_guide'
                WHEN u.s < 0.077 THEN 'transferred'
                WHEN u.s < 0.08 THEN 'vanished'
                ELSE 'active' END AS status) r
"""  # noqa: S608 - a constant fragment


def catalogue() -> dict[str, Any]:
    """Tag groups, tags and channels with their live codes, through the ORM (few rows)."""
    from channels_qr.models import Channel, LiveCode
    from tagging.models import Tag, TagGroup

    groups = TagGroup.objects.bulk_create(
        TagGroup(group_id=tag_id(-1 - n), name=name, order=100 - n)
        for n, name in enumerate(TAG_GROUPS)
    )
    Tag.objects.bulk_create(
        Tag(
            tag_id=tag_id(rank),
            group=groups[tag_group(rank)],
            name="勿扰" if rank == DND else f"{TAG_GROUPS[tag_group(rank)]}{rank:03d}",
            order=TAGS - rank,
        )
        for rank in range(1, TAGS + 1)
    )
    channels = Channel.objects.bulk_create(
        Channel(name=f"渠道{n:02d}") for n in range(1, CHANNELS + 1)
    )
    LiveCode.objects.bulk_create(
        LiveCode(channel=channel, state=f"ch{n:02d}_{code}")
        for n, channel in enumerate(channels, start=1)
        for code in range(1, 2 + n % 3)
    )
    # In channel order: the generator draws low positions more often, so channel 1 is the
    # most common and channel 20 the least.
    states = list(LiveCode.objects.order_by("channel_id", "id").values_list("state", flat=True))
    return {
        "tag_ids": [tag_id(rank) for rank in range(1, TAGS + 1)],
        "channel_ids": [c.pk for c in channels],
        "states": states,
    }


def generate(relations: int) -> dict[str, Any]:
    """The contact book straight into the tenant's tables (see the module docstring)."""
    from django.db import connection
    from django.utils import timezone

    guides = max(50, relations // 1000)
    stores = max(5, relations // 10_000)
    c3 = relations * 15 // 100
    c2 = relations // 10
    c1 = relations - 2 * c2 - 3 * c3
    customers = c1 + c2 + c3
    made = catalogue()
    now = timezone.now()
    chunk = 500_000  # customers per statement
    figures: dict[str, Any] = {
        "relations": relations,
        "customers": customers,
        "customers_with_two_guides": c2,
        "customers_with_three_guides": c3,
        "guides": guides,
        "stores": stores,
        "tags": TAGS,
        "tag_groups": len(TAG_GROUPS),
        "channels": CHANNELS,
        "live_codes": len(made["states"]),
    }
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(UNIFORM)
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
                FROM generate_series(1, %(stores)s) d;
                -- Store sizes differ: store 2 gets sqrt(1 / stores) of the guides.
                INSERT INTO contacts_guide (id, userid, name, position, store_id, department_ids,
                                            status, departed_at, customer_contact, created_at,
                                            synced_at)
                SELECT g, 'guide' || lpad(g::text, 5, '0'), '导购' || g, '', s.id,
                       ARRAY[s.id]::bigint[], 'active', NULL, true, now(), now()
                FROM generate_series(1, %(guides)s) g
                CROSS JOIN LATERAL (
                    SELECT 2 + least(%(stores)s - 1,
                                     floor(%(stores)s * pg_temp.bench_u(g, 1) ^ 2)::int) AS id
                ) s;
                """,
                {"stores": stores, "guides": guides},
            )
            for low in range(1, customers + 1, chunk):
                high = min(customers, low + chunk - 1)
                params = {
                    "low": low,
                    "high": high,
                    "c2": c2,
                    "c3": c3,
                    "now": now,
                    "guides": guides,
                    "states": made["states"],
                    "codes": len(made["states"]),
                    "tags": made["tag_ids"],
                    "tag_count": TAGS,
                }
                with stopwatch() as elapsed:
                    cursor.execute(CUSTOMERS_SQL, params)
                    cursor.execute(RELATIONS_SQL, params)
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
            for table in (*GENERATED_TABLES, "tagging_tag", "channels_qr_livecode"):
                cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE status = 'active'),
                   count(*) FILTER (WHERE cardinality(wecom_tag_ids) > 0),
                   coalesce(sum(cardinality(wecom_tag_ids)), 0),
                   count(*) FILTER (WHERE wecom_tag_ids @> ARRAY[%(popular)s]::varchar[]),
                   count(*) FILTER (WHERE wecom_tag_ids @> ARRAY[%(dnd)s]::varchar[]),
                   count(*) FILTER (WHERE state = ANY(%(states)s)),
                   count(*) FILTER (WHERE state <> '' AND NOT state = ANY(%(states)s))
            FROM contacts_relation
            """,
            {"popular": tag_id(POPULAR), "dnd": tag_id(DND), "states": made["states"]},
        )
        row = cursor.fetchone()
        assert row is not None
        total, active, tagged, tag_sum, popular, dnd, channel, unknown = (int(v) for v in row)
    figures.update(
        relations_in_db=total,
        active_share=round(active / total, 3),
        tagged_share=round(tagged / total, 3),
        tags_per_relation=round(tag_sum / total, 2),
        popular_tag_share=round(popular / total, 3),
        dnd_tag_share=round(dnd / total, 4),
        channel_state_share=round(channel / total, 3),
        unknown_state_share=round(unknown / total, 3),
        load_seconds=round(load_time[0], 1),
        index_seconds=round(index_time[0], 1),
        vacuum_analyze_seconds=round(vacuum_time[0], 1),
        channel_ids=made["channel_ids"],
    )
    return figures


def server_settings() -> dict[str, str]:
    """The PostgreSQL settings the figures depend on."""
    from django.db import connection

    names = ["server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather"]
    names += ["jit", "jit_above_cost", "random_page_cost"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
            [names],
        )
        return dict(cursor.fetchall())


# --- definitions ---------------------------------------------------------------------------


def largest_store() -> int:
    from django.db.models import Count

    from contacts.models import Store

    store = Store.objects.annotate(n=Count("guides")).order_by("-n", "id").first()
    assert store is not None
    return store.pk


def big_segment_since(target: int) -> str:
    """The earliest day D such that "active, not do-not-disturb, added since D" holds at
    least `target` customers (all of them if fewer qualify)."""
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH c AS (
                SELECT max((added_at AT TIME ZONE %(tz)s)::date) AS last_day
                FROM contacts_relation
                GROUP BY customer_id
                HAVING bool_or(status = 'active')
                   AND NOT bool_or(wecom_tag_ids @> ARRAY[%(dnd)s]::varchar[]))
            SELECT coalesce(
                (SELECT last_day FROM c ORDER BY last_day DESC OFFSET %(skip)s LIMIT 1),
                (SELECT min(last_day) FROM c))
            """,
            {"tz": settings.TIME_ZONE, "dnd": tag_id(DND), "skip": max(0, target - 1)},
        )
        row = cursor.fetchone()
    assert row is not None
    assert row[0] is not None
    return row[0].isoformat()


def definitions(relations: int, channel_ids: list[int]) -> dict[str, dict[str, Any]]:
    """Typical definitions over the generated data, by name."""
    from django.utils import timezone

    tags = {rank: tag_id(rank) for rank in range(1, TAGS + 1)}
    group_tags = [tags[r] for r in range(1, TAGS + 1) if tag_group(r) == tag_group(OR_TAG)]
    month_ago = (timezone.localdate() - timedelta(days=30)).isoformat()
    since = big_segment_since(int(relations * BIG_SHARE))

    def condition(field: str, op: str, *values: Any) -> dict[str, Any]:
        return {"field": field, "op": op, "values": list(values)}

    return {
        "popular tag (any)": condition("tags", "any", tags[POPULAR]),
        "two rare tags (all)": condition("tags", "all", tags[RARE[0]], tags[RARE[1]]),
        "a group's 20 tags (any)": condition("tags", "any", *group_tags),
        "tag (any of 2) and store": {
            "op": "and",
            "rules": [
                condition("tags", "any", *(tags[r] for r in STORE_TAGS)),
                condition("store", "in", largest_store()),
            ],
        },
        "not do-not-disturb, active": {
            "op": "and",
            "rules": [
                condition("tags", "none", tags[DND]),
                condition("status", "in", "active"),
            ],
        },
        "added in 30 days, 2 channels": {
            "op": "and",
            "rules": [
                {"field": "added", "op": "between", "from": month_ago, "to": None},
                condition("channel", "in", channel_ids[2], channel_ids[6]),
            ],
        },
        "or of two ands": {
            "op": "or",
            "rules": [
                {
                    "op": "and",
                    "rules": [
                        condition("tags", "any", tags[OR_TAG]),
                        condition("gender", "in", 2),
                    ],
                },
                {
                    "op": "and",
                    "rules": [
                        condition("channel", "in", channel_ids[0]),
                        condition("customer_type", "in", 2),
                    ],
                },
            ],
        },
        "big: active, not DND, added since": {
            "op": "and",
            "rules": [
                condition("status", "in", "active"),
                {"field": "added", "op": "between", "from": since, "to": None},
                condition("tags", "none", tags[DND]),
            ],
        },
    }


BIG = "big: active, not DND, added since"


# --- measurements --------------------------------------------------------------------------


def count_relations() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_relation")
        cursor.fetchone()


def measure_counts(cases: dict[str, dict[str, Any]], repeat: int) -> dict[str, Any]:
    """segment_count of each definition, p50 / p95 against the count(*) baseline."""
    from tagging.segments import segment_clean, segment_count

    baseline = timings(count_relations, repeat)
    log(f"baseline count(*): {baseline}")
    results: dict[str, Any] = {}
    for name, definition in cases.items():
        cleaned = segment_clean(definition)

        def measure(chosen: dict[str, Any] = cleaned) -> None:
            segment_count(chosen)

        row: dict[str, Any] = {"definition": cleaned, "customers": segment_count(cleaned)}
        row.update(timings(measure, repeat))
        row["p50_over_baseline"] = round(row["p50_ms"] / baseline["p50_ms"], 2)
        row["p95_over_baseline"] = round(row["p95_ms"] / baseline["p95_ms"], 2)
        results[name] = row
        log(f"{name}: {row['customers']:,} customers, {row['p50_ms']} / {row['p95_ms']} ms")
    return {"baseline": baseline, "segments": results}


def explain(sql: str, params: Any = None) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(line for (line,) in cursor.fetchall())


def job_relations(cleaned: dict[str, Any]) -> Any:
    """The relation query `bulk_job_from_segment` plans its rows from (as in tagging/bulk.py)."""
    from contacts.models import Relation
    from tagging.segments import segment_customers

    return Relation.objects.filter(
        status=Relation.Status.ACTIVE, customer_id__in=segment_customers(cleaned).values("pk")
    ).values("id")


def explain_all(cases: dict[str, dict[str, Any]]) -> None:
    """EXPLAIN ANALYZE of each count and of the job's relation query, to stderr (--explain)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tagging.segments import segment_clean, segment_count, segment_query_settings

    for name, definition in cases.items():
        cleaned = segment_clean(definition)
        with CaptureQueriesContext(connection) as captured:
            segment_count(cleaned)
        for query in captured.captured_queries:
            if query["sql"].startswith("SELECT COUNT"):
                with segment_query_settings():
                    log(f"EXPLAIN {name}:\n{query['sql']}\n{explain(query['sql'])}")
    cleaned = segment_clean(cases[BIG])
    with segment_query_settings():
        sql, params = job_relations(cleaned).query.sql_with_params()
        log(f"EXPLAIN the bulk job's relations ({BIG}):\n{sql}\n{explain(sql, params)}")


def materialise(definition: dict[str, Any], failures: list[str]) -> dict[str, Any]:
    """bulk_job_from_segment on a saved segment, against CREATE TEMP TABLE of its customers;
    the job's rows must be the active relations of the segment's customers."""
    from django.db import connection

    from tagging.bulk import bulk_job_from_segment
    from tagging.models import BulkTagRow
    from tagging.segments import segment_customers, segment_query_settings, segment_save

    with stopwatch() as save_time:
        segment = segment_save(
            segment=None, actor=None, name="Bench: big segment", definition=definition
        )
    log(f"saved segment {segment.name!r}: {segment.last_count:,} customers")
    with stopwatch() as job_time:
        job = bulk_job_from_segment(
            segment=segment, action="add", tag_ids=[tag_id(POPULAR)], actor=None
        )
    log(f"bulk_job_from_segment: {job.total:,} rows in {job_time[0]:.1f} s")
    sql, params = segment_customers(segment.definition).values("pk").query.sql_with_params()
    relations_sql, relations_params = job_relations(segment.definition).query.sql_with_params()
    with segment_query_settings(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_segment")
        with stopwatch() as temp_time:
            cursor.execute(f"CREATE TEMP TABLE bench_segment (id) AS {sql}", params)
        temp_rows = cursor.rowcount
        # The job's own query into a table without indexes or foreign keys: what planning
        # the rows costs before they are written into tagging_bulktagrow.
        with stopwatch() as relations_time:
            cursor.execute(
                f"CREATE TEMP TABLE bench_relations (id) AS {relations_sql}", relations_params
            )
        temp_relations = cursor.rowcount
        cursor.execute("DROP TABLE bench_relations")
        cursor.execute(
            """
            SELECT count(*) FROM contacts_relation
            WHERE status = 'active' AND customer_id IN (SELECT id FROM bench_segment)
            """
        )
        row = cursor.fetchone()
        assert row is not None
        active_relations = int(row[0])
        cursor.execute("DROP TABLE bench_segment")
    rows = BulkTagRow.objects.filter(job=job)
    inserted = rows.count()
    distinct = rows.values("relation_id").distinct().count()
    if not inserted == distinct == job.total == active_relations:
        failures.append(
            f"materialise: the job has {inserted:,} rows ({distinct:,} relations, total "
            f"{job.total:,}); the segment's customers have {active_relations:,} active relations"
        )
    if temp_relations != inserted:
        failures.append(
            f"materialise: the job's query gives {temp_relations:,} relations, the job has "
            f"{inserted:,} rows"
        )
    if temp_rows != segment.last_count:
        failures.append(
            f"materialise: the temp table has {temp_rows:,} customers, the segment "
            f"{segment.last_count:,}"
        )
    return {
        "segment": segment.name,
        "customers": segment.last_count,
        "rows": inserted,
        "active_relations_of_customers": active_relations,
        "segment_save_seconds": round(save_time[0], 2),
        "seconds": round(job_time[0], 2),
        "rows_per_second": round(inserted / job_time[0], 1),
        "temp_table_rows": temp_rows,
        "temp_table_seconds": round(temp_time[0], 2),
        "temp_relations_rows": temp_relations,
        "temp_relations_seconds": round(relations_time[0], 2),
        "job_id": job.pk,
    }


# --- brute force ---------------------------------------------------------------------------


class Population:
    """The generated rows in Python: sets of customer ids per value of each field."""

    def __init__(self) -> None:
        from django.conf import settings
        from django.db import connection

        from channels_qr.models import LiveCode

        self.everyone: set[int] = set()
        self.gender: dict[int, set[int]] = defaultdict(set)
        self.type: dict[int, set[int]] = defaultdict(set)
        self.by: dict[str, dict[Any, set[int]]] = defaultdict(lambda: defaultdict(set))
        self.days: list[tuple[date, int]] = []
        self.active_relations: dict[int, set[int]] = defaultdict(set)
        self.channel_states: dict[int, set[str]] = defaultdict(set)
        for channel_id, state in LiveCode.objects.values_list("channel_id", "state"):
            self.channel_states[channel_id].add(state)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, gender, type FROM contacts_customer")
            for pk, gender, kind in cursor.fetchall():
                self.everyone.add(pk)
                self.gender[gender].add(pk)
                self.type[kind].add(pk)
            cursor.execute(
                """
                SELECT r.id, r.customer_id, r.guide_id, g.store_id, r.wecom_tag_ids, r.status,
                       (r.added_at AT TIME ZONE %s)::date, r.state
                FROM contacts_relation r JOIN contacts_guide g ON g.id = r.guide_id
                """,
                [settings.TIME_ZONE],
            )
            for pk, customer, guide, store, tags, status, day, state in cursor.fetchall():
                for tag in tags:
                    self.by["tags"][tag].add(customer)
                self.by["guide"][guide].add(customer)
                self.by["store"][store].add(customer)
                self.by["status"][status].add(customer)
                self.by["state"][state].add(customer)
                self.days.append((day, customer))
                if status == "active":
                    self.active_relations[customer].add(pk)

    def customers(self, node: dict[str, Any]) -> set[int]:
        """The customers a cleaned definition selects, by set algebra."""
        if "rules" in node:
            parts = [self.customers(child) for child in node["rules"]]
            if not parts:
                return set(self.everyone)
            if node["op"] == "and":
                return set.intersection(*parts)
            return set.union(*parts)
        field, op = node["field"], node["op"]
        if field == "added":
            start = date.fromisoformat(node["from"]) if node["from"] else date.min
            end = date.fromisoformat(node["to"]) if node["to"] else date.max
            return {customer for day, customer in self.days if start <= day <= end}
        values = node["values"]
        if field == "tags":
            having = [self.by["tags"].get(tag, set()) for tag in values]
            if op == "all":
                return set.intersection(*having)
            hit = set.union(*having)
            return self.everyone - hit if op == "none" else hit
        if field == "gender":
            hit = set().union(*(self.gender.get(v, set()) for v in values))
        elif field == "customer_type":
            hit = set().union(*(self.type.get(v, set()) for v in values))
        elif field == "channel":
            states = set().union(*(self.channel_states.get(v, set()) for v in values))
            hit = set().union(*(self.by["state"].get(s, set()) for s in states))
        else:  # guide, store, status
            hit = set().union(*(self.by[field].get(v, set()) for v in values))
        return self.everyone - hit if op == "not_in" else hit


def brute_force_check(
    cases: dict[str, dict[str, Any]], job_id: int | None, failures: list[str]
) -> dict[str, Any]:
    """Every definition's customers (count and ids) and the job's relations, against Python."""
    from tagging.models import BulkTagRow
    from tagging.segments import segment_clean, segment_count, segment_customers

    before = len(failures)
    with stopwatch() as load_time:
        population = Population()
    compared: dict[str, int] = {}
    for name, definition in cases.items():
        cleaned = segment_clean(definition)
        expected = population.customers(cleaned)
        counted = segment_count(cleaned)
        found = set(segment_customers(cleaned).values_list("pk", flat=True))
        compared[name] = len(expected)
        if counted != len(expected) or found != expected:
            failures.append(
                f"{name}: segment_count {counted:,}, the query's customers {len(found):,}, "
                f"brute force {len(expected):,} (differ: {sorted(found ^ expected)[:10]})"
            )
        if name == BIG and job_id is not None:
            wanted = set().union(*(population.active_relations[c] for c in expected))
            rows = set(
                BulkTagRow.objects.filter(job_id=job_id).values_list("relation_id", flat=True)
            )
            compared["materialised relations"] = len(wanted)
            if rows != wanted:
                failures.append(
                    f"materialise: the job's relations differ from the brute force "
                    f"({len(rows):,} against {len(wanted):,})"
                )
    return {
        "method": "brute force in Python",
        "customers": len(population.everyone),
        "load_seconds": round(load_time[0], 1),
        "compared": compared,
        "equal": len(failures) == before,
    }


# --- report --------------------------------------------------------------------------------


def print_report(figures: dict[str, Any]) -> None:
    out: list[str] = []
    data = figures["data"]
    out.append(f"mode: {figures['mode']}")
    out.append(
        f"data: {number(data['relations'])} relations of {number(data['customers'])} customers "
        f"({number(data['customers_with_two_guides'])} held by 2 guides, "
        f"{number(data['customers_with_three_guides'])} by 3), {number(data['guides'])} guides "
        f"in {number(data['stores'])} stores; {data['active_share']:.1%} active"
    )
    out.append(
        f"  tags: {data['tags']} in {data['tag_groups']} groups; {data['tagged_share']:.0%} of "
        f"relations tagged, {data['tags_per_relation']} tags per relation; the most popular "
        f"on {data['popular_tag_share']:.1%}, do-not-disturb on {data['dnd_tag_share']:.2%}"
    )
    out.append(
        f"  channels: {data['channels']} with {data['live_codes']} live codes; "
        f"{data['channel_state_share']:.0%} of relations carry a live code's state, "
        f"{data['unknown_state_share']:.0%} an unknown state"
    )
    out.append(
        f"  generated in {data['load_seconds']} s, indexes {data['index_seconds']} s, vacuum "
        f"analyze {data['vacuum_analyze_seconds']} s; database "
        f"{figures['database_bytes'] / 1e9:.2f} GB"
    )
    out.append("  PostgreSQL: " + ", ".join(f"{k} {v}" for k, v in figures["server"].items()))
    counts = figures["counts"]
    base = counts["baseline"]
    out.append(
        f"segment_count, p50 / p95 ms over {figures['repeat']} runs (after 1 warm-up), "
        "and as a multiple of the baseline:"
    )
    out.append(f"  {'':36}{'customers':>11}{'p50 ms':>10}{'p95 ms':>10}{'x p50':>8}{'x p95':>8}")
    out.append(
        f"  {'baseline: SELECT count(*) relations':36}{number(data['relations_in_db']):>11}"
        f"{base['p50_ms']:>10.1f}{base['p95_ms']:>10.1f}{1.0:>8.2f}{1.0:>8.2f}"
    )
    for name, row in counts["segments"].items():
        out.append(
            f"  {name:36}{number(row['customers']):>11}{row['p50_ms']:>10.1f}"
            f"{row['p95_ms']:>10.1f}{row['p50_over_baseline']:>8.2f}"
            f"{row['p95_over_baseline']:>8.2f}"
        )
    big = counts["segments"][BIG]["definition"]["rules"][1]["from"]
    out.append(f"  (the big segment: added since {big})")
    made = figures["materialise"]
    out.append(
        f"materialise '{made['segment']}' ({number(made['customers'])} customers): "
        f"bulk_job_from_segment {number(made['rows'])} rows in {made['seconds']} s = "
        f"{number(made['rows_per_second'])} rows/s"
    )
    out.append(
        f"  CREATE TEMP TABLE ... AS SELECT id: its customers {made['temp_table_seconds']} s, "
        f"the job's relations {made['temp_relations_seconds']} s; segment_save (one count) "
        f"{made['segment_save_seconds']} s"
    )
    check = figures["check"]
    if check["method"] == "sql":
        out.append(
            f"check: the job's rows = the segment customers' active relations "
            f"({number(made['active_relations_of_customers'])}), counted in SQL"
        )
    else:
        out.append(
            f"check: {check['method']} over {number(check['customers'])} customers "
            f"(loaded in {check['load_seconds']} s): "
            + ("all equal" if check["equal"] else "DIFFERENT")
        )
    for failure in figures["failures"]:
        out.append(f"FAIL: {failure}")
    print("\n".join(out))


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--relations", type=int, default=1_000_000)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_RELATIONS:,} relations")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per definition")
    parser.add_argument("--brute-force", action="store_true", help="check in Python at any size")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE to stderr")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.relations, args.repeat = SMOKE_RELATIONS, min(args.repeat, 5)
    brute_force = args.brute_force or args.relations <= BRUTE_FORCE_MAX

    base = services_env()
    db_name = f"scrm_bench_segments_{uuid.uuid4().hex[:8]}"
    # Measured: 0.64 GB at 1M relations with their customers; count 1 kB per relation.
    needed = args.relations * 1000
    if disk_available() < 2 * needed + 5e9:
        sys.exit(f"{args.relations:,} relations need about {needed / 1e9:.1f} GB free, twice")
    admin_sql(base["DATABASE_URL"], f'CREATE DATABASE "{db_name}"')
    failures: list[str] = []
    figures: dict[str, Any] = {"repeat": args.repeat, "failures": failures}
    try:
        configure(base, db_name)
        from django_tenants.utils import schema_context

        log(f"database {db_name}: migrating")
        create_tenant()
        with schema_context(SCHEMA):
            log(f"generating {args.relations:,} relations")
            figures["mode"] = f"{args.relations:,} relations generated in SQL"
            generated = generate(args.relations)
            channel_ids = generated.pop("channel_ids")
            figures["data"] = generated
            figures["database_bytes"] = database_size(db_name)
            figures["server"] = server_settings()
            cases = definitions(args.relations, channel_ids)
            figures["counts"] = measure_counts(cases, args.repeat)
            if args.explain:
                explain_all(cases)
            figures["materialise"] = materialise(cases[BIG], failures)
            if figures["materialise"]["customers"] < args.relations * BIG_SHARE * 0.98:
                failures.append(
                    f"the big segment has only {figures['materialise']['customers']:,} customers"
                )
            job_id = figures["materialise"]["job_id"]
            figures["check"] = (
                brute_force_check(cases, job_id, failures) if brute_force else {"method": "sql"}
            )
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        forget_queued_tasks()
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
