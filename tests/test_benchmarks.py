"""Each benchmark's --smoke size runs here, so the benchmarks cannot rot."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run_bench(name: str) -> dict:
    result = subprocess.run(
        [sys.executable, f"bench/{name}.py", "--smoke", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_callbacks_benchmark_smoke():
    figures = run_bench("callbacks")

    assert figures["stored_distinct"] == figures["callbacks"] == figures["stored"]
    assert figures["acknowledged_per_second"] > 0
    assert figures["baseline_ping_per_second"] > 0


def test_callback_fuzz_benchmark_smoke():
    figures = run_bench("callback_fuzz")

    assert figures["kinds"] == 24
    assert figures["server_errors_5xx"] == 0
    assert figures["stored"] == figures["valid"] == figures["processed_done"] > 0


def test_api_fuzz_benchmark_smoke():
    figures = run_bench("api_fuzz")

    assert figures["pytest_exit_code"] == 0
    assert figures["server_errors_5xx"] == 0
    assert figures["operation_tests"] > 200  # every operation, valid and invalid
    assert figures["requests_stateful"] > 0
    assert figures["stateful"].startswith("stateful (")


def test_contacts_sync_benchmark_smoke():
    figures = run_bench("contacts_sync")

    assert figures["failures"] == []
    assert figures["differences"] == {}
    assert figures["data"]["relations"] == 2000
    assert figures["sync"]["stats"]["relations_new"] == 2000
    assert figures["relations_in_db"] == 2000
    assert figures["second_sync"]["changed"] == {}
    assert figures["sync"]["relations_per_second"] > 0
    assert figures["copy"]["rows_per_second"] > 0
    assert figures["wecom"]["relations_per_second"] > 0
    assert figures["ratio"]["sync_over_lower"] > 0
    for case in figures["latency"].values():
        for surface in ("console", "api", "selector"):
            assert case[surface]["p50_ms"] > 0


def test_segments_benchmark_smoke():
    figures = run_bench("segments")

    assert figures["failures"] == []
    assert figures["data"]["relations"] == figures["data"]["relations_in_db"] == 20000
    assert figures["check"]["method"] == "brute force in Python"
    assert figures["check"]["equal"] is True
    segments = figures["counts"]["segments"]
    assert len(segments) >= 6
    assert figures["counts"]["baseline"]["p50_ms"] > 0
    for name, case in segments.items():
        assert case["p50_ms"] > 0
        assert case["customers"] == figures["check"]["compared"][name]
    made = figures["materialise"]
    assert made["customers"] >= 10000
    assert made["rows"] == made["active_relations_of_customers"] > made["customers"]
    assert made["rows_per_second"] > 0


def test_welcome_benchmark_smoke():
    figures = run_bench("welcome")

    assert figures["failures"] == []
    for name, phase in figures["phases"].items():
        assert phase["fired"] == phase["planned"] > 0, name
        # at smoke rates the platform keeps up: every add processed and welcomed in time
        assert phase["adds_processed"] == phase["fired"]
        assert phase["welcome_logs"] == {"sent": phase["fired"]}
        assert phase["welcomes_received"] == phase["fired"]
        assert phase["duplicates"] == phase["codes_used_twice"] == phase["lost"] == 0
        assert phase["share_within_20s"] == 1.0
        assert 0 < phase["latency_seconds"]["p50"] <= phase["latency_seconds"]["p99"] < 20
        assert phase["adds_per_second"] > 0
    for name, floor in figures["floor"].items():
        assert floor["welcomes_received"] == floor["fired"] == floor["planned"], name
        assert floor["latency_seconds"]["p50"] > 0


def test_handover_benchmark_smoke():
    figures = run_bench("handover")

    assert figures["failures"] == []
    customers = figures["data"]["customers"]
    assert figures["allocation"]["items_written"] == customers == 300
    assert figures["allocation"]["start_items_per_second"] > 0
    sent = figures["send"]
    assert sent["item_statuses"] == {"waiting": customers}
    # one call per 100 customers of one guide pair: 3 guides x 3 takers, 33-34 each
    assert sent["transfer_calls"] == 9
    assert sent["calls_per_second"] > 0
    assert figures["baseline"]["calls"] == sent["transfer_calls"]
    assert figures["ratio"]["send_over_baseline"] > 0
    assert figures["results"]["wall_seconds"] > 0
    check = figures["check"]
    assert check["transfers_in_wecom"] == check["accepted"] == customers
    assert check["duplicates"] == check["lost"] == 0
    assert check["handover_statuses"] == {"done": 1}
    assert figures["peak_rss_mb"] > 0


def test_broadcast_benchmark_smoke():
    figures = run_bench("broadcast")

    assert figures["failures"] == []
    assert figures["data"]["customers"] == figures["data"]["customers_in_db"] == 2000
    planning = figures["planning"]
    assert planning["deliveries"] == 2000
    assert planning["counts"] == {"planned": 2000}
    assert planning["deliveries_per_second"] > 0
    assert figures["copy"]["rows"] == 2000
    assert figures["copy"]["indexes"]["rows_per_second"] > 0
    sent = figures["dispatch"]
    assert sent["status"] == "waiting"
    assert sent["chunk_statuses"] == {"created": figures["data"]["guides"]}
    assert sent["templates_per_second"] > 0
    # the smoke limit (10 calls per 2 s) makes the workers wait: the throttled path runs
    assert figures["workers"]["log"]["throttled_rescheduled"] > 0
    assert figures["limits"]["floor_seconds"] > 0
    assert figures["workers"]["memory"]["peak_rss_mb_max"] > 0
    check = figures["check"]
    assert check["sandbox_templates"] == check["chunks_with_msgid"] == sent["chunks"]
    assert check["templates_not_recorded"] == check["chunk_templates_missing"] == 0
    assert check["customers_received"] == check["deliveries_waiting"] == 2000
    assert check["duplicates"] == check["lost"] == check["received_not_planned"] == 0


def test_dashboard_benchmark_smoke():
    figures = run_bench("dashboard")

    assert figures["failures"] == []
    assert figures["data"]["relations"] > 20000  # with the handovers' takeover copies
    built = figures["build"]
    assert built["backfill_days"] == figures["data"]["days"] + 1
    assert built["relations_per_second"] > 0
    assert built["rows"]["store_day"] > 0
    assert sum(built["stage_counts"].values()) == figures["data"]["customers"]
    assert len(figures["latency"]) == 5
    for case in figures["latency"].values():
        assert case["equal"] is True
        assert case["adds"] > 0
        assert case["page"]["p50_ms"] > 0
        assert case["baseline"]["p50_ms"] > 0
    assert len({case["queries"] for case in figures["latency"].values()}) == 1


def test_orders_benchmark_smoke():
    figures = run_bench("orders")

    assert figures["failures"] == []
    first = figures["import"]
    assert first["rows"] == 2000
    assert first["created"] == first["orders"] == 1840
    assert first["refused"] == 160
    assert first["rows_per_second"] > 0
    assert figures["baseline"]["per_second"] > 0
    assert figures["reimport"]["added"] == 0
    assert figures["reimport"]["updated"] == first["created"]
    assert figures["late_match"]["matched"] == figures["late_match"]["orders"] == 200
    assert figures["push"]["per_second"] > 0


def test_soak_smoke():
    figures = run_bench("soak")

    assert figures["failures"] == []
    assert figures["drain"]["settled"] is True
    kinds = [event["kind"] for event in figures["events"]]
    for fault in ("redis restarted", "postgresql restarted", "worker SIGKILLed and restarted"):
        assert kinds.count(fault) == 1, fault
    injected = figures["sandbox_faults"]
    assert injected["calls"] > 0
    assert sum(n for kind, n in injected.items() if kind != "calls") > 0
    checks = figures["checks"]
    for name, check in checks.items():
        assert check["lost"] == check["duplicates"] == check["unprocessed"] == 0, name
        assert check["wrong"] == 0, name
    callbacks = checks["callbacks"]
    assert callbacks["sent_by_wecom"] == callbacks["stored"] == callbacks["processed"] > 0
    adds = checks["adds"]
    assert adds["scans"] == adds["attributed"] == figures["counts"]["scans"] > 30
    assert checks["deletions"]["deletions"] == figures["counts"]["deletions"] > 0
    sends = checks["group_sends"]
    assert sends["group_sends"] >= 2
    assert set(sends["send_statuses"]) <= {"done", "cancelled"}
    assert sends["delivery_statuses"]["sent"] == sends["messages_received"] > 0
    handover = checks["handover"]
    assert handover["status"] == "done"
    assert handover["items"] == handover["customers_held"] == handover["transfers_in_wecom"] > 0
    memory = figures["memory"]["processes"]
    for role in ("beat", "sandbox", "worker-high", "worker-bulk", "web worker 1"):
        assert any(name.startswith(role) for name in memory), role
    assert all(p["end_mb"] > 0 for p in memory.values())
