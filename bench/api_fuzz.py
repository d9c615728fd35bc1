"""Benchmark: the schemathesis run of the test suite at larger sizes.

    .venv/bin/python bench/api_fuzz.py            # 100 examples per operation and mode,
                                                  # 1,000 chains of up to 10 linked calls
    .venv/bin/python bench/api_fuzz.py --smoke    # 2 examples, 5 chains of 3 (test suite)

Runs `tests/test_api_fuzz.py` in a pytest session of its own (its own test database and
Redis databases: SCRM_TEST_SLOT, by default the one after the caller's), with the sizes
given through SCRM_FUZZ_EXAMPLES, SCRM_FUZZ_SCENARIOS and SCRM_FUZZ_STEPS; a full run draws
new examples each time (SCRM_HYPOTHESIS_RANDOM=1), the test suite replays fixed ones. Every request
is checked there (no 5xx; status, content type and body as the schema documents; every 4xx
a JSON body saying what was wrong). This prints how many requests were made, their
statuses and the time taken, and exits non-zero when any check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / ".local" / "bench-api-fuzz.log"  # pytest's output of the last run


def run(
    examples: int, scenarios: int, steps: int, slot: int, smoke: bool
) -> tuple[int, list[dict], float]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.jsonl"
        env = {
            **os.environ,
            "SCRM_TEST_SLOT": str(slot),
            "SCRM_FUZZ_EXAMPLES": str(examples),
            "SCRM_FUZZ_SCENARIOS": str(scenarios),
            "SCRM_FUZZ_STEPS": str(steps),
            "SCRM_FUZZ_REPORT": str(report),
            "SCRM_HYPOTHESIS_RANDOM": "0" if smoke else "1",  # new examples on every full run
        }
        env.pop("PYTEST_ADDOPTS", None)
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/test_api_fuzz.py",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:logging",
                "--tb=short",
                "--show-capture=no",
                "-o",
                "timeout=0",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
            print("\n".join(failed) or result.stderr[-3000:], file=sys.stderr)
            print(f"pytest's whole output: {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
        lines = report.read_text().splitlines() if report.exists() else []
        rows = [json.loads(line) for line in lines]
    return result.returncode, rows, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="per operation and mode")
    parser.add_argument("--scenarios", type=int, default=1000, help="chains of linked calls")
    parser.add_argument("--steps", type=int, default=10, help="calls per chain, at most")
    parser.add_argument(
        "--slot",
        type=int,
        default=(int(os.environ.get("SCRM_TEST_SLOT", "0")) + 1) % 4,
        help="SCRM_TEST_SLOT of the pytest session (its database and Redis databases)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, quick")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.examples, args.scenarios, args.steps = 2, 5, 3

    exit_code, rows, seconds = run(
        args.examples, args.scenarios, args.steps, args.slot, smoke=args.smoke
    )
    stateless = [row for row in rows if not row["test"].startswith("stateful")]
    stateful = [row for row in rows if row["test"].startswith("stateful")]

    def statuses(of: list[dict]) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for row in of:
            counts.update(row["statuses"])
        return dict(sorted(counts.items()))

    all_statuses = statuses(rows)
    requests = sum(all_statuses.values())
    figures = {
        "examples_per_operation_and_mode": args.examples,
        "chains": args.scenarios,
        "steps_per_chain": args.steps,
        "operation_tests": len(stateless),
        "stateful": stateful[0]["test"] if stateful else None,
        "requests": requests,
        "requests_stateless": sum(statuses(stateless).values()),
        "requests_stateful": sum(statuses(stateful).values()),
        "server_errors_5xx": sum(n for code, n in all_statuses.items() if code.startswith("5")),
        "statuses": all_statuses,
        "statuses_stateful": statuses(stateful),
        "seconds": round(seconds, 1),
        "requests_per_second": round(requests / seconds, 1) if seconds else 0,
        "pytest_exit_code": exit_code,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>32}: {value}")
    failures = []
    if exit_code != 0:
        failures.append(f"the schemathesis checks failed (pytest exit code {exit_code})")
    if not stateless or not stateful:
        failures.append("a part of the run reported nothing")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
