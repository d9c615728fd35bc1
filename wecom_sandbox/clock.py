"""The sandbox clock: real time plus an offset that tests advance to make things expire."""

import calendar
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

# WeCom's "natural month" for group-send caps is a month in China time.
CHINA_TZ = timezone(timedelta(hours=8))


class SandboxClock:
    """`now()` = wall clock + offset. Only moves forward."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return time.time() + self._offset

    def timestamp(self) -> int:
        return int(self.now())

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    def set_offset(self, offset: float) -> None:
        with self._lock:
            self._offset = offset


def month_key(timestamp: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(timestamp, CHINA_TZ)
    return moment.year, moment.month


def days_in_month(timestamp: float) -> int:
    year, month = month_key(timestamp)
    return calendar.monthrange(year, month)[1]


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
