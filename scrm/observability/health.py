"""One health snapshot per tenant, for the platform admin's health page and /metrics.

Each tenant costs one query in its own schema (no cross-schema SQL, so the Citus
schema-sharding path stays open) and two Redis round trips; the Celery queues are read once
for all tenants.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from contacts.models import SyncRun
from scrm.celery import app, queue_name
from scrm.observability.wecom_stats import CallCount, call_totals, calls_last_hours
from scrm.wecom.errors import errcode_meaning
from scrm.wecom.models import CallbackEvent
from tenants.models import Tenant

PENDING = (
    CallbackEvent.Status.RECEIVED,
    CallbackEvent.Status.PROCESSING,
    CallbackEvent.Status.RETRYING,
)
# Queued messages read per queue to tell tenants apart; a longer queue is sampled.
QUEUE_SCAN_LIMIT = 5000
# kombu's Redis transport keeps priorities 3, 6 and 9 in lists of their own.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_SCHEMA_IN_KWARGS = re.compile(r"""['"]tenant_schema['"]:\s*['"]([A-Za-z0-9_]+)['"]""")


@dataclass(frozen=True)
class ErrcodeCount:
    outcome: str
    count: int
    meaning: str


@dataclass
class TenantHealth:
    schema: str
    name: str
    callback_backlog: int = 0
    callback_oldest_age_seconds: float = 0.0
    callback_lag_p95_seconds: float | None = None
    callbacks_processed_recent: int = 0
    callbacks_failed_24h: int = 0
    queued_tasks: dict[str, int] = field(default_factory=dict)
    wecom_calls_24h: int = 0
    wecom_errors_24h: list[ErrcodeCount] = field(default_factory=list)
    wecom_totals: list[CallCount] = field(default_factory=list)
    last_sync_status: str = ""
    last_sync_finished_at: datetime | None = None
    last_sync_ok_at: datetime | None = None
    alarms: list[str] = field(default_factory=list)

    @property
    def wecom_error_count_24h(self) -> int:
        return sum(e.count for e in self.wecom_errors_24h)

    @property
    def wecom_error_rate_24h(self) -> float:
        return self.wecom_error_count_24h / self.wecom_calls_24h if self.wecom_calls_24h else 0.0

    @property
    def wecom_error_percent_24h(self) -> float:
        return 100 * self.wecom_error_rate_24h

    @property
    def queued_total(self) -> int:
        return sum(self.queued_tasks.values())


@dataclass
class PlatformHealth:
    tenants: list[TenantHealth]
    queue_depths: dict[str, int]
    queues_sampled: bool
    read_at: datetime


_TENANT_SQL = f"""
SELECT
  (SELECT count(*) FROM {CallbackEvent._meta.db_table} WHERE status = ANY(%(pending)s)),
  (SELECT min(received_at) FROM {CallbackEvent._meta.db_table} WHERE status = ANY(%(pending)s)),
  (SELECT count(*) FROM {CallbackEvent._meta.db_table}
    WHERE status = 'failed' AND received_at > %(day_ago)s),
  (SELECT percentile_cont(0.95) WITHIN GROUP (
      ORDER BY extract(epoch FROM processed_at - received_at))
    FROM {CallbackEvent._meta.db_table}
    WHERE status = 'done' AND received_at > %(recent)s AND processed_at IS NOT NULL),
  (SELECT count(*) FROM {CallbackEvent._meta.db_table}
    WHERE status = 'done' AND received_at > %(recent)s),
  (SELECT status FROM {SyncRun._meta.db_table} ORDER BY id DESC LIMIT 1),
  (SELECT finished_at FROM {SyncRun._meta.db_table} ORDER BY id DESC LIMIT 1),
  (SELECT max(finished_at) FROM {SyncRun._meta.db_table} WHERE status = 'done')
"""  # noqa: S608 (table names from the models, values bound)


def _tenant_numbers(health: TenantHealth, now: datetime) -> None:
    with schema_context(health.schema), connection.cursor() as cursor:
        cursor.execute(
            _TENANT_SQL,
            {
                "pending": list(PENDING),
                "day_ago": now - timedelta(hours=24),
                "recent": now - timedelta(seconds=settings.HEALTH_CALLBACK_LAG_WINDOW_SECONDS),
            },
        )
        row = cursor.fetchone()
    backlog, oldest, failed, lag_p95, processed, sync_status, sync_at, sync_ok_at = row
    health.callback_backlog = backlog
    health.callback_oldest_age_seconds = (now - oldest).total_seconds() if oldest else 0.0
    health.callbacks_failed_24h = failed
    health.callback_lag_p95_seconds = float(lag_p95) if lag_p95 is not None else None
    health.callbacks_processed_recent = processed
    health.last_sync_status = sync_status or ""
    health.last_sync_finished_at = sync_at
    health.last_sync_ok_at = sync_ok_at


def _wecom_numbers(health: TenantHealth) -> None:
    recent = calls_last_hours(health.schema, 24)
    health.wecom_calls_24h = sum(c.count for c in recent)
    errors: Counter[str] = Counter()
    for count in recent:
        if count.failed:
            errors[count.outcome] += count.count
    health.wecom_errors_24h = [
        ErrcodeCount(outcome=outcome, count=n, meaning=_outcome_meaning(outcome))
        for outcome, n in errors.most_common()
    ]
    health.wecom_totals = call_totals(health.schema)


def _outcome_meaning(outcome: str) -> str:
    if outcome.lstrip("-").isdigit():
        return errcode_meaning(int(outcome))
    if outcome.startswith("http_"):
        return _("HTTP status %(status)s from WeCom") % {"status": outcome[5:]}
    return {"timeout": _("timed out"), "connection": _("connection failed")}.get(outcome, "")


def _alarms(health: TenantHealth, now: datetime) -> list[str]:
    alarms = []
    if health.callback_oldest_age_seconds > settings.HEALTH_CALLBACK_LAG_ALARM_SECONDS:
        alarms.append(
            _("Callbacks waiting: the oldest has waited %(seconds)d s")
            % {"seconds": health.callback_oldest_age_seconds}
        )
    if health.callbacks_failed_24h:
        alarms.append(
            _("%(count)d callbacks failed in 24 h") % {"count": health.callbacks_failed_24h}
        )
    if (
        health.wecom_calls_24h >= settings.HEALTH_WECOM_ERROR_MIN_CALLS
        and health.wecom_error_rate_24h > settings.HEALTH_WECOM_ERROR_RATE_ALARM
    ):
        alarms.append(
            _("WeCom errors: %(rate).1f%% of calls in 24 h")
            % {"rate": 100 * health.wecom_error_rate_24h}
        )
    stale = now - timedelta(hours=settings.HEALTH_SYNC_STALE_HOURS)
    if health.last_sync_ok_at is None or health.last_sync_ok_at < stale:
        alarms.append(
            _("No successful sync with WeCom in %(hours)d h")
            % {"hours": settings.HEALTH_SYNC_STALE_HOURS}
        )
    return alarms


def _broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5)


def _queue_names() -> list[str]:
    return [queue_name(q.name) for q in app.conf.task_queues or ()]


def _schema_of(message: bytes | str) -> str | None:
    try:
        headers = json.loads(message).get("headers") or {}
    except ValueError:
        return None
    match = _SCHEMA_IN_KWARGS.search(str(headers.get("kwargsrepr") or ""))
    return match.group(1) if match else None


def queued_tasks() -> tuple[dict[str, int], dict[str, dict[str, int]], bool]:
    """(depth per queue, queued tasks per tenant per queue, whether a queue was sampled)."""
    broker = _broker()
    depths: dict[str, int] = {}
    per_tenant: dict[str, dict[str, int]] = {}
    sampled = False
    for name in _queue_names():
        keys = [name + suffix for suffix in _PRIORITY_SUFFIXES]
        pipe = broker.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        lengths = pipe.execute()
        depths[name] = sum(lengths)
        remaining = QUEUE_SCAN_LIMIT
        for key, length in zip(keys, lengths, strict=True):
            if not length or remaining <= 0:
                continue
            sampled = sampled or length > remaining
            for message in broker.lrange(key, 0, remaining - 1):
                schema = _schema_of(message)
                if schema:
                    queues = per_tenant.setdefault(schema, {})
                    queues[name] = queues.get(name, 0) + 1
            remaining -= length
    return depths, per_tenant, sampled


def platform_health() -> PlatformHealth:
    now = timezone.now()
    with schema_context(get_public_schema_name()):
        tenants = list(
            Tenant.objects.filter(is_active=True, provisioned_at__isnull=False)
            .exclude(schema_name=get_public_schema_name())
            .order_by("name")
            .values_list("schema_name", "name")
        )
    depths, per_tenant, sampled = queued_tasks()
    snapshots = []
    for schema, name in tenants:
        health = TenantHealth(schema=schema, name=name)
        _tenant_numbers(health, now)
        _wecom_numbers(health)
        health.queued_tasks = per_tenant.get(schema, {})
        health.alarms = _alarms(health, now)
        snapshots.append(health)
    snapshots.sort(key=lambda h: (not h.alarms, h.name))
    return PlatformHealth(
        tenants=snapshots, queue_depths=depths, queues_sampled=sampled, read_at=now
    )


def as_json(health: PlatformHealth) -> dict[str, Any]:
    """The snapshot as plain data (the health page's JSON form)."""
    return {
        "read_at": health.read_at.isoformat(),
        "queue_depths": health.queue_depths,
        "queues_sampled": health.queues_sampled,
        "tenants": [
            {
                "schema": t.schema,
                "name": t.name,
                "callback_backlog": t.callback_backlog,
                "callback_oldest_age_seconds": round(t.callback_oldest_age_seconds, 1),
                "callback_lag_p95_seconds": t.callback_lag_p95_seconds,
                "callbacks_failed_24h": t.callbacks_failed_24h,
                "queued_tasks": t.queued_tasks,
                "wecom_calls_24h": t.wecom_calls_24h,
                "wecom_errors_24h": {e.outcome: e.count for e in t.wecom_errors_24h},
                "last_sync_status": t.last_sync_status,
                "last_sync_ok_at": t.last_sync_ok_at.isoformat() if t.last_sync_ok_at else None,
                "alarms": t.alarms,
            }
            for t in health.tenants
        ],
    }
