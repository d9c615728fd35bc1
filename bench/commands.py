"""The command lines benchmarks start the platform's processes with."""

from __future__ import annotations

import sys
from pathlib import Path


def gunicorn_command(port: int, workers: int, *, timeout: int = 120) -> list[str]:
    """gunicorn serving scrm.wsgi on 127.0.0.1:`port` (sync workers, warnings only)."""
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "scrm.wsgi",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(workers),
        "--timeout",
        str(timeout),
        "--log-level",
        "warning",
    ]


def celery_worker_command(
    queues: str, concurrency: int, node: str, *, level: str = "warning"
) -> list[str]:
    """A prefork Celery worker on `queues` named `node`@host, without the chatter between
    workers (mingle, gossip, heartbeats) that benchmarks do not need."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "scrm",
        "worker",
        "-P",
        "prefork",
        "-c",
        str(concurrency),
        "-Q",
        queues,
        "-n",
        f"{node}@%h",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "-l",
        level,
    ]
