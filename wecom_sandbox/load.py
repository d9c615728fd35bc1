"""Scans fired by the sandbox itself at a fixed rate, and what became of each one.

`POST /sandbox/corps/{corp}/scan_load` starts a thread that fires `rate` scans per second
for `seconds` at one contact way, each exactly what `POST .../scan` does (a new customer
follows a member of the way, a WelcomeCode is issued, `add_external_contact` is sent), on
a fixed schedule: the n-th scan is due n / rate seconds after the start, so a slow client
never thins out the load and a late scan is fired at once (`max_lag_ms` says how late the
latest one was). `GET .../scan_load/{id}?rows=1` then tells, per scan, when its callback
was first sent and acknowledged and when its welcome was taken, so a benchmark can
measure add-to-welcome latency where WeCom would. Times are wall-clock seconds
(`time.time()`), comparable with timestamps taken by other processes on the machine.
"""

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wecom_sandbox import simulation
from wecom_sandbox.errors import WeComError
from wecom_sandbox.records import WelcomeCode

if TYPE_CHECKING:
    from wecom_sandbox.sandbox import Sandbox

MAX_RATE = 10_000  # scans per second
MAX_SCANS = 1_000_000  # per load
ERRORS_KEPT = 10


@dataclass
class ScanTrace:
    external_userid: str
    userid: str
    fired_at: float
    delivery_id: int | None
    # The code itself, not its string: the corp forgets old codes, a load must not.
    code: WelcomeCode | None


@dataclass
class ScanLoad:
    id: int
    corp_id: str
    config_id: str
    rate: float
    seconds: float
    name_prefix: str
    planned: int
    traces: list[ScanTrace] = field(default_factory=list)
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    status: str = "running"
    started_at: float = 0.0
    finished_at: float | None = None
    max_lag_ms: float = 0.0
    stopping: threading.Event = field(default_factory=threading.Event)

    def to_json(self) -> dict[str, Any]:
        return {
            "load_id": self.id,
            "corp_id": self.corp_id,
            "config_id": self.config_id,
            "rate": self.rate,
            "seconds": self.seconds,
            "planned": self.planned,
            "fired": len(self.traces),
            "error_count": self.error_count,
            "errors": list(self.errors),
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "max_lag_ms": round(self.max_lag_ms, 1),
        }


class ScanLoads:
    """The loads of this sandbox process, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loads: dict[int, ScanLoad] = {}
        self._ids = itertools.count(1)

    def start(
        self,
        sb: "Sandbox",
        *,
        corp_id: str,
        config_id: str,
        rate: float,
        seconds: float,
        name_prefix: str,
    ) -> ScanLoad:
        """Check the request and start firing. Caller holds the state lock."""
        if config_id not in sb.state.corp(corp_id).contact_ways:
            raise LookupError(f"no contact way {config_id!r}")
        if not 0 < rate <= MAX_RATE:
            raise ValueError(f"rate must be above 0 and at most {MAX_RATE} scans per second")
        if seconds <= 0:
            raise ValueError("seconds must be above 0")
        planned = round(rate * seconds)
        if not 1 <= planned <= MAX_SCANS:
            raise ValueError(f"rate x seconds must make 1 to {MAX_SCANS} scans")
        with self._lock:
            load = ScanLoad(
                next(self._ids), corp_id, config_id, rate, seconds, name_prefix, planned
            )
            self._loads[load.id] = load
        threading.Thread(
            target=_fire, args=(sb, load), name=f"scan-load-{load.id}", daemon=True
        ).start()
        return load

    def get(self, load_id: int) -> ScanLoad:
        with self._lock:
            load = self._loads.get(load_id)
        if load is None:
            raise LookupError(f"no scan load {load_id}")
        return load

    def stop_all(self) -> None:
        with self._lock:
            loads = list(self._loads.values())
            self._loads.clear()
        for load in loads:
            load.stopping.set()


def _fire(sb: "Sandbox", load: ScanLoad) -> None:
    load.started_at = time.time()
    start = time.monotonic()
    for index in range(load.planned):
        delay = start + index / load.rate - time.monotonic()
        if delay > 0:
            if load.stopping.wait(delay):
                break
        else:
            load.max_lag_ms = max(load.max_lag_ms, -delay * 1000)
            if load.stopping.is_set():
                break
        try:
            with sb.state.lock:
                corp = sb.state.corp(load.corp_id)
                fired_at = time.time()
                scanned = simulation.scan(
                    sb, corp, config_id=load.config_id, name=f"{load.name_prefix}{index + 1}"
                )
                code = corp.welcome_codes.get(scanned["welcome_code"] or "")
        except (LookupError, ValueError, WeComError) as error:
            load.error_count += 1
            if len(load.errors) < ERRORS_KEPT:
                load.errors.append(f"scan {index + 1}: {error}")
            continue
        load.traces.append(
            ScanTrace(
                scanned["external_userid"],
                scanned["userid"],
                fired_at,
                scanned["delivery_id"],
                code,
            )
        )
    load.finished_at = time.time()
    load.status = "stopped" if load.stopping.is_set() else "done"


def scan_rows(sb: "Sandbox", load: ScanLoad) -> list[dict[str, Any]]:
    """Per scan: fired, callback sent (start of its first attempt) and acknowledged (the
    200), welcome taken, welcomes the customer received, send_welcome_msg calls on the
    code. Caller holds the state lock."""
    corp = sb.state.corps.get(load.corp_id)
    rows = []
    for trace in list(load.traces):
        delivery = sb.dispatcher.delivery(trace.delivery_id) if trace.delivery_id else None
        attempts = list(delivery.attempts) if delivery is not None else []
        received = corp.received.get(trace.external_userid, ()) if corp is not None else ()
        rows.append(
            {
                "external_userid": trace.external_userid,
                "userid": trace.userid,
                "fired_at": trace.fired_at,
                "callback_status": delivery.status if delivery is not None else None,
                "callback_attempts": len(attempts),
                "callback_sent_at": (
                    attempts[0].at - attempts[0].latency_ms / 1000 if attempts else None
                ),
                "callback_acked_at": next((a.at for a in attempts if a.status_code == 200), None),
                "welcome_at": trace.code.welcomed_at if trace.code is not None else None,
                "welcomes": sum(1 for receipt in received if receipt.kind == "welcome"),
                "welcome_calls": trace.code.calls if trace.code is not None else 0,
            }
        )
    return rows
