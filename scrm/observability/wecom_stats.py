"""Counters of WeCom calls per tenant, by API and outcome (errcode), kept in Redis.

Two hashes per tenant, both named after it:

- `scrm:<schema>:wecom:calls` holds running totals (never expire; Prometheus computes rates
  from them and copes with a reset when Redis restarts);
- `scrm:<schema>:wecom:calls:<YYYYMMDDHH>` holds one hour's counts (kept 49 hours), for the
  health page's "last 24 hours".

A field is `<api>|<outcome>`: the outcome is `0` for success, the WeCom errcode, or
`http_<status>`, `timeout`, `connection` when WeCom gave no errcode. Counting never fails a
call: a Redis error is logged and the count is lost.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django_redis import get_redis_connection

from scrm.wecom.errors import WeComError

logger = logging.getLogger(__name__)

HOUR_BUCKET_TTL = 49 * 3600
OK = "0"


def _totals_key(tenant_schema: str) -> str:
    return f"scrm:{tenant_schema}:wecom:calls"


def _hour_key(tenant_schema: str, hour: datetime) -> str:
    return f"scrm:{tenant_schema}:wecom:calls:{hour:%Y%m%d%H}"


def outcome_of(error: WeComError | None) -> str:
    if error is None:
        return OK
    if error.errcode is not None:
        return str(error.errcode)
    if error.http_status is not None:
        return f"http_{error.http_status}"
    return "timeout" if "timed out" in error.errmsg else "connection"


def call_record(*, tenant_schema: str, api: str, error: WeComError | None = None) -> None:
    """Count one WeCom call (each attempt, retries included)."""
    field = f"{api}|{outcome_of(error)}"
    now = timezone.now().astimezone(UTC)
    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        pipe.hincrby(_totals_key(tenant_schema), field, 1)
        hour_key = _hour_key(tenant_schema, now)
        pipe.hincrby(hour_key, field, 1)
        pipe.expire(hour_key, HOUR_BUCKET_TTL)
        pipe.execute()
    except Exception as exc:  # counting must never fail the call
        logger.warning("could not count a WeCom call: %s", type(exc).__name__)


@dataclass(frozen=True)
class CallCount:
    api: str
    outcome: str
    count: int

    @property
    def failed(self) -> bool:
        return self.outcome != OK


def _parse(raw: dict[bytes, bytes]) -> list[CallCount]:
    counts = []
    for field, value in raw.items():
        api, _, outcome = field.decode().rpartition("|")
        counts.append(CallCount(api=api, outcome=outcome, count=int(value)))
    return sorted(counts, key=lambda c: (c.api, c.outcome))


def call_totals(tenant_schema: str) -> list[CallCount]:
    """Running totals since counting began (or Redis last lost them)."""
    return _parse(get_redis_connection("default").hgetall(_totals_key(tenant_schema)))


def calls_last_hours(tenant_schema: str, hours: int = 24) -> list[CallCount]:
    """Counts of the last `hours` hours (the current one included), summed per field."""
    now = timezone.now().astimezone(UTC)
    pipe = get_redis_connection("default").pipeline(transaction=False)
    for back in range(hours):
        pipe.hgetall(_hour_key(tenant_schema, now - timedelta(hours=back)))
    summed: dict[bytes, int] = defaultdict(int)
    for raw in pipe.execute():
        for field, value in raw.items():
            summed[field] += int(value)
    return _parse({field: str(value).encode() for field, value in summed.items()})
