"""Benchmark: WeCom callbacks acknowledged per second by the real web process.

    .venv/bin/python bench/callbacks.py            # 5,000 callbacks, 16 concurrent senders
    .venv/bin/python bench/callbacks.py --smoke    # 200 callbacks (run by the test suite)

Builds a fresh database with one tenant whose corp has callback keys, starts gunicorn on
it, then from a separate process sends N distinct callbacks, signed and encrypted by
wechatpy's WeChatCrypto exactly as WeCom sends them, and measures acknowledged callbacks/s
and acknowledgement latency (p50/p99). In the same run it measures requests/s of the
cheapest view (`/ping`) on the same server: the ratio is the figure to compare across
machines. Exits non-zero if any callback was not acknowledged with 200, lost (not stored)
or stored twice.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORP_ID = "wwbenchcorp000001"
TOKEN = "benchCallbackToken"  # noqa: S105
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
PATH = f"/wecom/callback/{CORP_ID}/customer_contact/"


def services_env() -> dict[str, str]:
    values = dict(os.environ)
    env_file = ROOT / ".local" / "services.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            values.setdefault(key, value)
    if "DATABASE_URL" not in values or "REDIS_URL" not in values:
        sys.exit("DATABASE_URL and REDIS_URL are needed (run ./dev.sh services first)")
    return values


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def admin_sql(server_url: str, statement: str) -> None:
    import psycopg2

    parts = urlsplit(server_url)
    conn = psycopg2.connect(
        dbname="postgres",
        user=parts.username,
        password=parts.password,
        host=parts.hostname,
        port=parts.port,
    )
    conn.autocommit = True
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def prepare_database(env: dict[str, str]) -> None:
    """Migrate the bench database and create the tenant with its callback keys."""
    script = f"""
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.base")
import django
django.setup()
from django.core.management import call_command
call_command("migrate_schemas", verbosity=0)
from tenants.models import Domain, Tenant, WeComApp, WeComCorp
from tenants.services import tenant_create
public = Tenant(schema_name="public", name="Platform"); public.save()
Domain.objects.create(domain="localhost", tenant=public, is_primary=True)
tenant = tenant_create(name="Bench", schema_name="bench", domain="bench.localhost")
corp = WeComCorp.objects.create(tenant=tenant, corp_id="{CORP_ID}")
WeComApp.objects.create(corp=corp, kind="customer_contact", agent_id=1, secret="s",
                        callback_token="{TOKEN}", encoding_aes_key="{AES_KEY}")
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)


def signed_callbacks(count: int, run_id: str) -> list[tuple[str, bytes]]:
    from wechatpy.enterprise.crypto import WeChatCrypto

    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
    now = int(time.time())
    requests = []
    for index in range(count):
        message = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            "<FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[change_external_contact]]></Event>"
            "<ChangeType><![CDATA[edit_external_contact]]></ChangeType>"
            "<UserID><![CDATA[guide01]]></UserID>"
            f"<ExternalUserID><![CDATA[wm{run_id}{index:07d}]]></ExternalUserID></xml>"
        )
        nonce, timestamp = uuid.uuid4().hex[:10], str(now)
        reply = crypto.encrypt_message(message, nonce, timestamp)
        encrypted = reply.split("<Encrypt><![CDATA[")[1].split("]]></Encrypt>")[0]
        signature = reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID>1</AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        ).encode()
        requests.append(
            (f"{PATH}?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}", body)
        )
    return requests


def _send_all(
    port: int, method: str, items: list[tuple[str, bytes]], concurrency: int, out
) -> None:
    """Runs in the load process: send every item, record (status, latency)."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    position = iter(range(len(items)))

    def sender() -> None:
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                return
            path, body = items[index]
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request(
                    method,
                    path,
                    body=body or None,
                    headers={"Host": "localhost", "Content-Type": "text/xml"},
                )
                status = conn.getresponse().status
                conn.close()
            except OSError:
                status = 0
            elapsed = time.perf_counter() - start
            with lock:
                results.append((status, elapsed))

    started = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put({"results": results, "seconds": time.perf_counter() - started})


def load(port: int, method: str, items: list[tuple[str, bytes]], concurrency: int) -> dict:
    """Send from a separate process, so the sender does not share our interpreter."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(
        target=_send_all, args=(port, method, items, concurrency, queue)
    )
    process.start()
    outcome = queue.get()
    process.join()
    latencies = sorted(elapsed for _, elapsed in outcome["results"])
    return {
        "count": len(outcome["results"]),
        "ok": sum(1 for status, _ in outcome["results"] if status == 200),
        "per_second": len(latencies) / outcome["seconds"],
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
    }


def stored_count(env: dict[str, str], run_id: str) -> tuple[int, int]:
    import psycopg2

    parts = urlsplit(env["DATABASE_URL"])
    conn = psycopg2.connect(
        dbname=parts.path.lstrip("/"),
        user=parts.username,
        password=parts.password,
        host=parts.hostname,
        port=parts.port,
    )
    try:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT count(*), count(DISTINCT payload->>'ExternalUserID') "
            "FROM bench.wecom_callbackevent WHERE payload->>'ExternalUserID' LIKE %s",
            [f"wm{run_id}%"],
        )
        row = cursor.fetchone()
        assert row is not None
        return int(row[0]), int(row[1])
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping", headers={"Host": "localhost"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("the web server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--smoke", action="store_true", help="200 callbacks, quick")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.count, args.concurrency = 200, 8

    base = services_env()
    db_name = f"scrm_bench_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in base.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        SCRM_ENV="development",
        SCRM_SERVICES_ENV=str(ROOT / ".local" / "none.env"),
        DATABASE_URL=with_path(base["DATABASE_URL"], f"/{db_name}"),
        REDIS_URL=with_path(base["REDIS_URL"], "/8"),
        LOG_LEVEL="WARNING",
    )
    admin_sql(base["DATABASE_URL"], f'CREATE DATABASE "{db_name}"')
    web = None
    try:
        prepare_database(env)
        port = free_port()
        web = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "scrm.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        wait_for(port)
        run_id = uuid.uuid4().hex[:6]
        callbacks = signed_callbacks(args.count, run_id)
        load(port, "GET", [("/ping", b"")] * min(200, args.count), args.concurrency)  # warm up
        baseline = load(port, "GET", [("/ping", b"")] * args.count, args.concurrency)
        measured = load(port, "POST", callbacks, args.concurrency)
        total, distinct = stored_count(env, run_id)
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=20)
        admin_sql(base["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    figures = {
        "callbacks": args.count,
        "concurrency": args.concurrency,
        "gunicorn_workers": args.workers,
        "acknowledged_per_second": round(measured["per_second"], 1),
        "ack_p50_ms": round(measured["p50_ms"], 2),
        "ack_p99_ms": round(measured["p99_ms"], 2),
        "baseline_ping_per_second": round(baseline["per_second"], 1),
        "ratio_to_baseline": round(measured["per_second"] / baseline["per_second"], 3),
        "acknowledged_200": measured["ok"],
        "stored": total,
        "stored_distinct": distinct,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>26}: {value}")
    failures = []
    if measured["ok"] != args.count:
        failures.append(f"{args.count - measured['ok']} callbacks not acknowledged with 200")
    if distinct != args.count:
        failures.append(f"{args.count - distinct} callbacks lost (not stored)")
    if total != distinct:
        failures.append(f"{total - distinct} callbacks stored twice")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
