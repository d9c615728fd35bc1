"""Injected failures: errcodes, latency and HTTP 5xx per API path, and dropped callbacks."""

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ALL_APIS = "*"


@dataclass
class ApiFault:
    """What to do to calls of one API path (or of every path, under "*").

    `times` limits how many calls the fault hits (then it is removed); None = forever.
    `reply_latency_ms` delays the answer of a call already carried out: a client that dies
    or times out meanwhile cannot know WeCom did it (the window crash tests aim at).
    `errcodes` / `http_statuses`, when given, replace `errcode` / `http_status` with one
    drawn at random per failed call (a mix such as -1 and 45009); `latency_rate` is the
    share of calls that get `latency_ms` (1.0: every call; below, latency spikes).
    """

    error_rate: float = 0.0
    errcode: int = -1
    errmsg: str = ""
    latency_ms: int = 0
    reply_latency_ms: int = 0
    http_error_rate: float = 0.0
    http_status: int = 503
    times: int | None = None
    errcodes: list[int] = field(default_factory=list)
    http_statuses: list[int] = field(default_factory=list)
    latency_rate: float = 1.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ApiFault":
        fault = cls(
            error_rate=float(data.get("error_rate", 0.0)),
            errcode=int(data.get("errcode", -1)),
            errmsg=str(data.get("errmsg", "")),
            latency_ms=int(data.get("latency_ms", 0)),
            reply_latency_ms=int(data.get("reply_latency_ms", 0)),
            http_error_rate=float(data.get("http_error_rate", 0.0)),
            http_status=int(data.get("http_status", 503)),
            times=None if data.get("times") is None else int(data["times"]),
            errcodes=[int(code) for code in data.get("errcodes") or []],
            http_statuses=[int(status) for status in data.get("http_statuses") or []],
            latency_rate=float(data.get("latency_rate", 1.0)),
        )
        rates = (fault.error_rate, fault.http_error_rate, fault.latency_rate)
        if not all(0 <= rate <= 1 for rate in rates):
            raise ValueError("rates are between 0 and 1")
        if not all(500 <= status <= 599 for status in [fault.http_status, *fault.http_statuses]):
            raise ValueError("http_status must be a 5xx")
        return fault

    def to_json(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "errcode": self.errcode,
            "errmsg": self.errmsg,
            "latency_ms": self.latency_ms,
            "reply_latency_ms": self.reply_latency_ms,
            "http_error_rate": self.http_error_rate,
            "http_status": self.http_status,
            "times": self.times,
            "errcodes": list(self.errcodes),
            "http_statuses": list(self.http_statuses),
            "latency_rate": self.latency_rate,
        }


@dataclass
class FaultDecision:
    latency_ms: int = 0
    reply_latency_ms: int = 0
    http_status: int | None = None
    errcode: int | None = None
    errmsg: str = ""


@dataclass
class FaultConfig:
    apis: dict[str, ApiFault] = field(default_factory=dict)
    drop_callbacks: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FaultConfig":
        apis = {path: ApiFault.from_json(spec) for path, spec in (data.get("apis") or {}).items()}
        drop = data.get("drop_callbacks", 0.0)
        drop_rate = 1.0 if drop is True else float(drop or 0.0)
        if not 0 <= drop_rate <= 1:
            raise ValueError("drop_callbacks is a rate between 0 and 1 (or true)")
        return cls(apis=apis, drop_callbacks=drop_rate)

    def to_json(self) -> dict[str, Any]:
        return {
            "apis": {path: fault.to_json() for path, fault in self.apis.items()},
            "drop_callbacks": self.drop_callbacks,
        }


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._random = random.Random()  # noqa: S311 - chaos, not security
        self._injected: Counter[str] = Counter()

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the faults; the counts of injected faults start again from zero."""
        with self._lock:
            self._config = config
            self._injected = Counter()

    def injected(self) -> dict[str, int]:
        """What was injected since the last configure: calls that met a fault
        ("calls"), and per kind: "errcode <n>", "http <status>", "latency",
        "reply_latency", "dropped_callbacks"."""
        with self._lock:
            return dict(sorted(self._injected.items()))

    def decide(self, path: str) -> FaultDecision:
        """Roll the dice for one API call; the path's own fault wins over "*"."""
        with self._lock:
            key = path if path in self._config.apis else ALL_APIS
            fault = self._config.apis.get(key)
            if fault is None:
                return FaultDecision()
            spike = fault.latency_rate >= 1 or self._random.random() < fault.latency_rate
            decision = FaultDecision(
                latency_ms=fault.latency_ms if spike else 0,
                reply_latency_ms=fault.reply_latency_ms,
            )
            if fault.http_error_rate and self._random.random() < fault.http_error_rate:
                decision.http_status = (
                    self._random.choice(fault.http_statuses)
                    if fault.http_statuses
                    else fault.http_status
                )
            elif fault.error_rate and self._random.random() < fault.error_rate:
                decision.errcode = (
                    self._random.choice(fault.errcodes) if fault.errcodes else fault.errcode
                )
                decision.errmsg = fault.errmsg
            self._count(decision)
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._config.apis[key]
            return decision

    def _count(self, decision: FaultDecision) -> None:
        self._injected["calls"] += 1
        if decision.latency_ms:
            self._injected["latency"] += 1
        if decision.reply_latency_ms:
            self._injected["reply_latency"] += 1
        if decision.http_status is not None:
            self._injected[f"http {decision.http_status}"] += 1
        if decision.errcode is not None:
            self._injected[f"errcode {decision.errcode}"] += 1

    def drop_callback(self) -> bool:
        with self._lock:
            rate = self._config.drop_callbacks
            dropped = bool(rate) and self._random.random() < rate
            if dropped:
                self._injected["dropped_callbacks"] += 1
            return dropped
