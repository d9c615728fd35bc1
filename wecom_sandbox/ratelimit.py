"""WeCom's frequency limits: per corp per API and per client IP per API, sliding windows.

Windows count wall-clock time, not the sandbox clock, so a test can configure "5 calls per
2 s" and see 45009 without touching the clock.
"""

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

# Each window is split into this many buckets: memory stays bounded however high the limit
# (150,000/hour would otherwise be 150,000 timestamps per key) and the edge error is 1/50
# of the window.
BUCKETS_PER_WINDOW = 50


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"limit": self.limit, "window_seconds": self.seconds}


# OFF 90454: 10,000/min and 150,000/hour per corp per API; 20,000/min and 600,000/hour per
# IP per API.
DEFAULT_PER_CORP = (Window(10_000, 60), Window(150_000, 3600))
DEFAULT_PER_IP = (Window(20_000, 60), Window(600_000, 3600))


class SlidingCounter:
    """Events in the last `window.seconds`, counted in buckets."""

    __slots__ = ("buckets", "total", "width", "window")

    def __init__(self, window: Window) -> None:
        self.window = window
        self.width = window.seconds / BUCKETS_PER_WINDOW
        self.buckets: deque[list[float]] = deque()
        self.total = 0

    def _expire(self, now: float) -> None:
        horizon = now - self.window.seconds
        while self.buckets and self.buckets[0][0] + self.width <= horizon:
            self.total -= int(self.buckets.popleft()[1])

    def has_room(self, now: float) -> bool:
        self._expire(now)
        return self.total < self.window.limit

    def add(self, now: float) -> None:
        start = now - (now % self.width)
        if self.buckets and self.buckets[-1][0] == start:
            self.buckets[-1][1] += 1
        else:
            self.buckets.append([start, 1])
        self.total += 1


def parse_windows(value: Any) -> tuple[Window, ...]:
    """`{"limit": 5, "window_seconds": 2}` or a list of them."""
    items = value if isinstance(value, list) else [value]
    windows = []
    for item in items:
        limit = int(item["limit"])
        seconds = float(item.get("window_seconds", 60))
        if limit < 0 or seconds <= 0:
            raise ValueError("limit must be >= 0 and window_seconds > 0")
        windows.append(Window(limit, seconds))
    return tuple(windows)


@dataclass
class LimitConfig:
    per_corp: tuple[Window, ...] = DEFAULT_PER_CORP
    per_ip: tuple[Window, ...] = DEFAULT_PER_IP
    # API path -> windows that replace `per_corp` for that path.
    per_api: dict[str, tuple[Window, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "per_corp": [w.to_json() for w in self.per_corp],
            "per_ip": [w.to_json() for w in self.per_ip],
            "per_api": {path: [w.to_json() for w in ws] for path, ws in self.per_api.items()},
        }


class RateLimiter:
    """Checks and counts one call against every applicable window, atomically."""

    def __init__(self, config: LimitConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or LimitConfig()
        self._counters: dict[tuple[str, str, str, int], SlidingCounter] = {}

    @property
    def config(self) -> LimitConfig:
        return self._config

    def configure(self, config: LimitConfig) -> None:
        with self._lock:
            self._config = config
            self._counters = {}

    def _counter(self, key: tuple[str, str, str, int], window: Window) -> SlidingCounter:
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = SlidingCounter(window)
        return counter

    def allow(self, path: str, corp_id: str | None, client_ip: str) -> bool:
        """Count the call and return True, or return False (45009) without counting it."""
        now = time.monotonic()
        with self._lock:
            counters = []
            corp_windows = self._config.per_api.get(path, self._config.per_corp)
            if corp_id is not None:
                for index, window in enumerate(corp_windows):
                    counters.append(self._counter(("corp", corp_id, path, index), window))
            for index, window in enumerate(self._config.per_ip):
                counters.append(self._counter(("ip", client_ip, path, index), window))
            if not all(counter.has_room(now) for counter in counters):
                return False
            for counter in counters:
                counter.add(now)
            return True
