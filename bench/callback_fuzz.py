"""Benchmark: 10,000 generated callbacks, mostly bad, against the real web process and worker.

    .venv/bin/python bench/callback_fuzz.py            # 10,000 callbacks
    .venv/bin/python bench/callback_fuzz.py --smoke    # 300 callbacks (run by the test suite)

Builds a fresh database with one tenant whose corp has callback keys (as bench/callbacks.py),
starts gunicorn and one Celery worker on it, then sends the mix of `wecom_sandbox.fuzz`:
valid callbacks, replays of them (the same request, and the same event encrypted anew), and
malformed, oversized, wrongly signed, wrongly encrypted, misaddressed ones. It prints the
HTTP statuses per kind and then checks, exiting non-zero on any failure:

- no 5xx and no connection error;
- every invalid kind answered 4xx, every valid one and every replay 200;
- stored events: exactly the valid ones, each once (replays not stored again);
- processed: every stored event done by the worker, each claimed once (attempts = 1).
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callbacks import (  # noqa: E402
    AES_KEY,
    CORP_ID,
    TOKEN,
    admin_sql,
    free_port,
    prepare_database,
    services_env,
    wait_for,
    with_path,
)
from wecom_sandbox.fuzz import PROBE_CHANGE_TYPE, FuzzCallback, fuzz_callbacks  # noqa: E402

# Shared with bench/callbacks.py (8): this one's queues have a prefix of their own.
REDIS_DB = 8
LOG_ERRORS = ["--log-level", "error"]
CELERY = [sys.executable, "-m", "celery", "-A", "scrm"]
NO_CHATTER = ["--without-mingle", "--without-gossip"]


def send_all(port: int, callbacks: list[FuzzCallback], concurrency: int) -> list[int]:
    statuses = [0] * len(callbacks)
    position = iter(range(len(callbacks)))
    lock = threading.Lock()

    def sender() -> None:
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                return
            callback = callbacks[index]
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request(
                    callback.method,
                    callback.path,
                    body=callback.body or None,
                    headers={"Host": "localhost", "Content-Type": "text/xml"},
                )
                statuses[index] = conn.getresponse().status
                conn.close()
            except OSError:
                statuses[index] = 0

    threads = [threading.Thread(target=sender) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def stored_events(database_url: str) -> list[tuple[str, str, str, int]]:
    import psycopg2

    conn = psycopg2.connect(database_url)
    try:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT payload->>'ExternalUserID', change_type, status, attempts "
            "FROM bench.wecom_callbackevent"
        )
        return cursor.fetchall()
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--smoke", action="store_true", help="300 callbacks, quick")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.count = 300

    base = services_env()
    db_name = f"scrm_bench_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in base.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        SCRM_ENV="development",
        SCRM_SERVICES_ENV=str(ROOT / ".local" / "none.env"),
        DATABASE_URL=with_path(base["DATABASE_URL"], f"/{db_name}"),
        REDIS_URL=with_path(base["REDIS_URL"], f"/{REDIS_DB}"),
        LOG_LEVEL="ERROR",
        SCRM_QUEUE_PREFIX=f"fuzz{uuid.uuid4().hex[:6]}-",
    )
    queues = ",".join(env["SCRM_QUEUE_PREFIX"] + q for q in ("high", "default", "bulk"))
    admin_sql(base["DATABASE_URL"], f'CREATE DATABASE "{db_name}"')
    processes: list[subprocess.Popen] = []
    # Every refusal is logged (django.request, django.security): kept out of the figures.
    web_log_path = ROOT / ".local" / "bench-callback-fuzz-web.log"
    web_log = open(web_log_path, "wb")  # noqa: SIM115 (closed in finally)
    try:
        prepare_database(env)
        port = free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        processes.append(
            subprocess.Popen(
                [gunicorn, "scrm.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", *LOG_ERRORS],
                cwd=ROOT,
                env=env,
                stdout=web_log,
                stderr=web_log,
            )
        )
        processes.append(
            subprocess.Popen(
                [*CELERY, "worker", "-c", "2", "-Q", queues, "-l", "error", *NO_CHATTER],
                cwd=ROOT,
                env=env,
                stdout=web_log,
                stderr=web_log,
            )
        )
        wait_for(port)
        started = time.perf_counter()
        callbacks = list(
            fuzz_callbacks(
                corp_id=CORP_ID, token=TOKEN, aes_key=AES_KEY, count=args.count, seed=args.seed
            )
        )
        generated = time.perf_counter() - started
        started = time.perf_counter()
        statuses = send_all(port, callbacks, args.concurrency)
        sent_seconds = time.perf_counter() - started
        valid = {c.external_userid for c in callbacks if c.expect == "store"}
        deadline = time.monotonic() + 120
        while True:
            rows = stored_events(env["DATABASE_URL"])
            if all(status == "done" for _, _, status, _ in rows) or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        admin_sql(base["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        web_log.close()

    by_kind: dict[str, Counter[int]] = defaultdict(Counter)
    for callback, status in zip(callbacks, statuses, strict=True):
        by_kind[callback.kind][status] += 1
    failures = []
    for kind, codes in sorted(by_kind.items()):
        wanted = {200} if kind in ("valid", "replay", "replay_reencrypted") else None
        bad = {
            code: n
            for code, n in codes.items()
            if (code not in wanted if wanted else not 400 <= code < 500)
        }
        if bad:
            failures.append(f"{kind}: unexpected statuses {bad}")
    stored_ids = Counter(external_userid for external_userid, _, _, _ in rows)
    lost = valid - set(stored_ids)
    extra = set(stored_ids) - valid
    twice = [i for i, n in stored_ids.items() if n > 1]
    not_done = [i for i, _, status, _ in rows if status != "done"]
    claimed_again = [i for i, _, _, attempts in rows if attempts != 1]
    if any(change_type != PROBE_CHANGE_TYPE for _, change_type, _, _ in rows):
        failures.append("an event other than the generated valid ones was stored")
    for label, items in (
        ("valid callbacks not stored (lost)", lost),
        ("invalid callbacks stored", extra),
        ("events stored twice", twice),
        ("events not processed", not_done),
        ("events claimed more than once", claimed_again),
    ):
        if items:
            failures.append(f"{len(items)} {label}")

    figures = {
        "callbacks": len(callbacks),
        "kinds": len(by_kind),
        "valid": len(valid),
        "replays": sum(1 for c in callbacks if c.expect == "duplicate"),
        "rejected_expected": sum(1 for c in callbacks if c.expect == "reject"),
        "server_errors_5xx": sum(1 for s in statuses if s >= 500),
        "connection_errors": statuses.count(0),
        "stored": len(rows),
        "processed_done": len(rows) - len(not_done),
        "sent_per_second": round(len(callbacks) / sent_seconds, 1),
        "generate_seconds": round(generated, 1),
        "web_and_worker_log": str(web_log_path.relative_to(ROOT)),
        "statuses_by_kind": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())},
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            if key != "statuses_by_kind":
                print(f"{key:>22}: {value}")
        for kind, codes in figures["statuses_by_kind"].items():
            print(f"{kind:>28}: {codes}")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
