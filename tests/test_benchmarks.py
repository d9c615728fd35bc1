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
