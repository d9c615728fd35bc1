"""`/metrics` in Prometheus' text format, read at scrape time from the same snapshot as the
health page (so every web process answers the same numbers; nothing is kept in process
memory). Protected by a bearer token (SCRM_METRICS_TOKEN); in production the endpoint stays
closed until the token is set.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scrm.observability.health import PlatformHealth, platform_health


class PlatformCollector(Collector):
    def __init__(self, health: PlatformHealth) -> None:
        self.health = health

    def collect(self) -> Iterator[Metric]:
        tenants = self.health.tenants
        backlog = GaugeMetricFamily(
            "scrm_callback_backlog",
            "WeCom callbacks stored and not yet processed",
            labels=["tenant"],
        )
        oldest = GaugeMetricFamily(
            "scrm_callback_oldest_pending_age_seconds",
            "Age of the oldest unprocessed callback (0 when none waits)",
            labels=["tenant"],
        )
        lag = GaugeMetricFamily(
            "scrm_callback_lag_p95_seconds",
            "95th percentile of received-to-processed time of recent callbacks",
            labels=["tenant"],
        )
        failed = GaugeMetricFamily(
            "scrm_callbacks_failed_24h",
            "Callbacks that failed for good in the last 24 hours",
            labels=["tenant"],
        )
        queued = GaugeMetricFamily(
            "scrm_tenant_queued_tasks",
            "Tasks of the tenant waiting in a Celery queue",
            labels=["tenant", "queue"],
        )
        calls = CounterMetricFamily(
            "scrm_wecom_calls",
            "WeCom API calls by API and outcome (errcode 0 = success)",
            labels=["tenant", "api", "errcode"],
        )
        errors = CounterMetricFamily(
            "scrm_wecom_errors",
            "Failed WeCom API calls by errcode (or http_<status>, timeout, connection)",
            labels=["tenant", "errcode"],
        )
        sync_ok = GaugeMetricFamily(
            "scrm_last_successful_sync_timestamp_seconds",
            "When the last full sync with WeCom finished successfully",
            labels=["tenant"],
        )
        for t in tenants:
            backlog.add_metric([t.schema], t.callback_backlog)
            oldest.add_metric([t.schema], t.callback_oldest_age_seconds)
            if t.callback_lag_p95_seconds is not None:
                lag.add_metric([t.schema], t.callback_lag_p95_seconds)
            failed.add_metric([t.schema], t.callbacks_failed_24h)
            for queue, count in sorted(t.queued_tasks.items()):
                queued.add_metric([t.schema, queue], count)
            by_errcode: dict[str, int] = {}
            for call in t.wecom_totals:
                calls.add_metric([t.schema, call.api, call.outcome], call.count)
                if call.failed:
                    by_errcode[call.outcome] = by_errcode.get(call.outcome, 0) + call.count
            for errcode, count in sorted(by_errcode.items()):
                errors.add_metric([t.schema, errcode], count)
            if t.last_sync_ok_at is not None:
                sync_ok.add_metric([t.schema], t.last_sync_ok_at.timestamp())
        depth = GaugeMetricFamily(
            "scrm_queue_depth", "Messages waiting in a Celery queue", labels=["queue"]
        )
        for queue, count in sorted(self.health.queue_depths.items()):
            depth.add_metric([queue], count)
        alarms = GaugeMetricFamily(
            "scrm_tenant_alarms", "Alarms raised on the health page", labels=["tenant"]
        )
        for t in tenants:
            alarms.add_metric([t.schema], len(t.alarms))
        yield from (backlog, oldest, lag, failed, queued, calls, errors, sync_ok, depth, alarms)
        yield GaugeMetricFamily("scrm_tenants", "Active, provisioned tenants", value=len(tenants))


def _authorized(request: HttpRequest) -> bool:
    token = settings.SCRM_METRICS_TOKEN
    if not token:
        return settings.SCRM_ENV != "production"
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        return HttpResponse(
            "metrics: send Authorization: Bearer <SCRM_METRICS_TOKEN>\n",
            status=401 if settings.SCRM_METRICS_TOKEN else 403,
            content_type="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(platform_health()))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
