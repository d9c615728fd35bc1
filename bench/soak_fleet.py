"""The soak's own servers and the platform's processes (bench/soak.py).

- `Servers`: a PostgreSQL cluster and a Redis server of the soak's own, on free ports, with
  their data under the run's folder, so the soak can restart them without touching the
  project's shared services. PostgreSQL refuses to run as root: as root, `initdb` and
  `pg_ctl` run as the `postgres` user (`runuser -u postgres --`), as ./dev.sh does. Redis
  keeps an append-only file, as in docker-compose.yml, so a restart keeps the queues.
- `Fleet`: gunicorn, the Celery workers split as in docker-compose.yml (`high`;
  `default,bulk`; `webhooks`) and beat, each in a process group of its own, so a worker
  can be SIGKILLed with its pool children and started again; their RSS read from /proc.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callbacks import admin_sql, free_port, wait_for  # noqa: E402
from bench.commands import celery_worker_command, gunicorn_command  # noqa: E402


def pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql")
    return found[-1]


class Servers:
    """PostgreSQL and Redis of the soak's own under `run_dir` (pg/, redis/)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.pg_dir = run_dir / "pg"
        self.redis_dir = run_dir / "redis"
        self.pg_port = free_port()
        self.redis_port = free_port()
        while self.redis_port == self.pg_port:
            self.redis_port = free_port()
        self.bin = pg_bindir()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        self.pg_started = self.redis_started = False

    @property
    def server_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}"

    def database_url(self, name: str) -> str:
        return f"{self.server_url}/{name}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.pg_dir), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start_postgres(self) -> None:
        self.pg_dir.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.run_dir, "postgres")
            shutil.chown(self.pg_dir, "postgres")
        self.pg_dir.chmod(0o700)
        subprocess.run(
            [
                *self.as_postgres,
                str(self.bin / "initdb"),
                "-D",
                str(self.pg_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # Like the development cluster of ./dev.sh: durability traded for speed. Restarts
        # are clean (`-m fast` checkpoints first), so nothing committed is lost by them.
        options = (
            f"-p {self.pg_port} -c listen_addresses=127.0.0.1 -k {self.pg_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._pg_ctl("-l", str(self.pg_dir / "postgres.log"), "-w", "-o", options, "start")
        self.pg_started = True

    def restart_postgres(self) -> float:
        """`pg_ctl restart -m fast`: sessions are cut, the server is back when this returns.
        Returns the seconds it took."""
        started = time.monotonic()
        self._pg_ctl("-w", "-m", "fast", "restart")
        return time.monotonic() - started

    def create_database(self, name: str) -> None:
        admin_sql(self.server_url, f'CREATE DATABASE "{name}"')

    def _redis_start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--dir",
                str(self.redis_dir),
                "--pidfile",
                str(self.redis_dir / "redis.pid"),
                "--logfile",
                str(self.redis_dir / "redis.log"),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True, check=False
            ).stdout.strip()
            != b"PONG"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis did not start: see {self.redis_dir / 'redis.log'}")
            time.sleep(0.05)
        self.redis_started = True

    def start_redis(self) -> None:
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        self._redis_start()

    def _redis_cli(self, *args: str) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), *args],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )

    def _redis_down(self) -> None:
        pidfile = self.redis_dir / "redis.pid"
        pid = int(pidfile.read_text()) if pidfile.exists() else None
        self._redis_cli("shutdown")
        deadline = time.monotonic() + 30
        while pid is not None and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart_redis(self) -> float:
        """Shut Redis down (the append-only file is written) and start it again. Returns
        the seconds it was away."""
        started = time.monotonic()
        self._redis_down()
        self._redis_start()
        return time.monotonic() - started

    def stop(self) -> None:
        if self.redis_started:
            self._redis_down()
        if self.pg_started:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._pg_ctl("-w", "-m", "fast", "stop")


# --- the platform's processes ------------------------------------------------------------


@dataclass
class Member:
    """One process of the fleet (with its children); `incarnation` counts restarts."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    incarnation: int = 0
    started_at: float = 0.0
    log_offset: int = 0  # where this incarnation's output starts in its log file
    kills: list[float] = field(default_factory=list)


# Celery workers as docker-compose.yml splits the queues; concurrency sized for 2 cores.
WORKERS = (
    ("worker-high", "high", 2),
    ("worker-bulk", "default,bulk", 2),
    ("worker-webhooks", "webhooks", 1),
)


class Fleet:
    """gunicorn (its workers), the Celery workers and beat, logs under `log_dir`."""

    def __init__(self, log_dir: Path, run_dir: Path, web_workers: int = 2) -> None:
        self.log_dir = log_dir
        self.web_port = free_port()
        self.members: dict[str, Member] = {}
        self._add("web", gunicorn_command(self.web_port, web_workers, timeout=30))
        for name, queues, concurrency in WORKERS:
            self._add(name, celery_worker_command(queues, concurrency, name, level="info"))
        self._add(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "scrm",
                "beat",
                "-s",
                str(run_dir / "celerybeat-schedule"),
                "-l",
                "info",
            ],
        )

    def _add(self, name: str, command: list[str]) -> None:
        self.members[name] = Member(name, command)

    def _spawn(self, member: Member) -> None:
        with open(self.log_dir / f"{member.name}.log", "ab") as output:
            member.log_offset = output.tell()
            # A session of its own: a SIGKILL of the group takes the pool children too.
            member.process = subprocess.Popen(
                member.command,
                cwd=ROOT,
                env=dict(os.environ),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        member.incarnation += 1
        member.started_at = time.monotonic()

    def start(self) -> None:
        for member in self.members.values():
            self._spawn(member)
        wait_for(self.web_port, timeout=60)

    def kill(self, name: str) -> None:
        """SIGKILL the process and its children (its whole group), as an OOM kill or a
        lost host would: nothing is acknowledged or cleaned up."""
        member = self.members[name]
        if member.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(member.process.pid, signal.SIGKILL)
        member.process.wait(timeout=30)
        member.kills.append(time.monotonic())

    def restart(self, name: str) -> None:
        self._spawn(self.members[name])

    def exited(self) -> list[tuple[str, int]]:
        """(name, exit code) of the processes that exited without being killed."""
        return [
            (m.name, m.process.returncode)
            for m in self.members.values()
            if m.process is not None and m.process.poll() is not None
        ]

    def stop(self) -> None:
        for member in self.members.values():
            if member.process is not None and member.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(member.process.pid, signal.SIGTERM)
        for member in self.members.values():
            if member.process is None:
                continue
            try:
                member.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(member.process.pid, signal.SIGKILL)
                member.process.wait(timeout=10)

    def log_of_incarnation(self, name: str) -> str:
        """What the process wrote since it was last started."""
        with open(self.log_dir / f"{name}.log", "rb") as log:
            log.seek(self.members[name].log_offset)
            return log.read().decode(errors="replace")

    def processes(self, min_age: float = 0.0) -> dict[str, list[int]]:
        """What the memory table reports, by role: each gunicorn worker on its own (the
        master only forks them), each Celery worker with its pool children, beat. A process
        started less than `min_age` seconds ago is still warming up: left out."""
        found: dict[str, list[int]] = {}
        for member in self.members.values():
            if member.process is None or member.process.poll() is not None:
                continue
            if time.monotonic() - member.started_at < min_age:
                continue
            pid = member.process.pid
            if member.name == "web":
                for index, child in enumerate(sorted(children(pid)), start=1):
                    found[f"web worker {index} (pid {child})"] = [child]
            else:
                label = f"{member.name}" + (
                    f" (restart {member.incarnation - 1})" if member.incarnation > 1 else ""
                )
                found[label] = [pid, *children(pid)]
        return found


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def rss_mb(pids: list[int]) -> float:
    """The processes' resident set size together, in MB (VmRSS)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def cpu_count() -> int:
    return os.cpu_count() or 1


def sample(fleet: Fleet, sandbox_pid: int, min_age: float) -> dict[str, Any]:
    """One memory sample: RSS per process of the fleet (warmed up) and of the sandbox, and
    the load average."""
    rss = {name: rss_mb(pids) for name, pids in fleet.processes(min_age).items()}
    rss["sandbox"] = rss_mb([sandbox_pid])
    return {"rss": rss, "load": load_average()}
