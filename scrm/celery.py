"""The Celery app. Tenant tasks are declared with scrm.tenant_tasks.tenant_task."""

import os
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.base")

app = Celery("scrm", task_cls="celery.contrib.django.task:DjangoTask")

# Task name -> queue, filled by scrm.tenant_tasks.tenant_task.
TASK_QUEUES: dict[str, str] = {}


def queue_name(queue: str) -> str:
    """A queue's name on the broker. SCRM_QUEUE_PREFIX gives a worker queues of its own (a
    test's killable worker never competes with the session's worker)."""
    from django.conf import settings

    return str(getattr(settings, "SCRM_QUEUE_PREFIX", "")) + queue


def route_by_declared_queue(name: str, *args: Any, **kwargs: Any) -> dict[str, str] | None:
    queue = TASK_QUEUES.get(name)
    return {"queue": queue_name(queue)} if queue else None


app.config_from_object("django.conf:settings", namespace="CELERY")

# Split by urgency: callbacks and welcome messages (high) can never wait behind bulk work
# (sync, group sends, transfers, exports); outbound webhooks have a queue of their own, so
# a slow receiver never delays WeCom work.
app.conf.task_queues = (Queue("high"), Queue("default"), Queue("bulk"), Queue("webhooks"))
app.conf.task_routes = (route_by_declared_queue,)
app.conf.beat_schedule = {
    "wecom-media-refresh": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 3600.0,
        "kwargs": {"task_name": "scrm.wecom.tasks.media_refresh_task"},
    },
    "wecom-callbacks-requeue-lost": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 300.0,
        "kwargs": {"task_name": "scrm.wecom.tasks.callback_events_requeue_lost_task"},
    },
    "audit-log-retention": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(hour=3, minute=17),
        "kwargs": {"task_name": "accounts.tasks.audit_log_prune_task"},
    },
    "contacts-nightly-sync": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(hour=2, minute=7),
        "kwargs": {"task_name": "contacts.tasks.contacts_sync_scheduled_task"},
    },
    "contacts-sync-resume": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 120.0,
        "kwargs": {"task_name": "contacts.tasks.contacts_sync_resume_task"},
    },
    "tags-pull": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(minute=23),
        "kwargs": {"task_name": "tagging.tasks.tags_pull_task"},
    },
    "channels-live-codes-sync": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 60.0,
        "kwargs": {"task_name": "channels_qr.tasks.live_codes_sync_task"},
    },
    "tags-bulk-resume": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 120.0,
        "kwargs": {"task_name": "tagging.tasks.bulk_tag_resume_task"},
    },
    "contacts-deletion-digest": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(hour=9, minute=0),
        "kwargs": {"task_name": "contacts.tasks.deletion_digest_task"},
    },
    "handover-tick": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 60.0,
        "kwargs": {"task_name": "handover.tasks.handover_tick_task"},
    },
    "broadcast-tick": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 60.0,
        "kwargs": {"task_name": "broadcast.tasks.broadcast_tick_task"},
    },
    "dashboard-refresh": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 300.0,
        "kwargs": {"task_name": "dashboard.tasks.dashboard_refresh_task"},
    },
    "dashboard-refresh-week": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(hour=4, minute=47),
        "kwargs": {"task_name": "dashboard.tasks.dashboard_refresh_task", "days": 7},
    },
    "lifecycle-stages": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(minute=53),
        "kwargs": {"task_name": "lifecycle.tasks.customer_stages_recompute_task"},
    },
    "orders-rematch-recent": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 120.0,
        "kwargs": {"task_name": "orders.tasks.orders_rematch_recent_task"},
    },
    "orders-rematch-all": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(hour=4, minute=13),
        "kwargs": {"task_name": "orders.tasks.orders_rematch_all_task"},
    },
    "orders-imports-resume": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 120.0,
        "kwargs": {"task_name": "orders.tasks.order_imports_resume_task"},
    },
    "idempotency-keys-prune": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(minute=37),
        "kwargs": {"task_name": "accounts.tasks.idempotency_keys_prune_task"},
    },
    "webhooks-requeue": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": 60.0,
        "kwargs": {"task_name": "webhooks.tasks.webhook_deliveries_requeue_task"},
    },
    "webhooks-retention": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(hour=3, minute=41),
        "kwargs": {"task_name": "webhooks.tasks.webhook_events_prune_task"},
    },
    "privacy-retention": {
        "task": "scrm.tenant_tasks.fan_out_to_tenants",
        "schedule": crontab(hour=3, minute=29),
        "kwargs": {"task_name": "privacy.tasks.privacy_retention_task"},
    },
}
app.autodiscover_tasks()


@signals.task_prerun.connect(weak=False)
def _log_task_id(task_id: str = "", **kwargs: Any) -> None:
    """A task's log records carry its task id as request id."""
    from scrm.observability.context import request_id_set

    request_id_set(task_id)


@signals.task_postrun.connect(weak=False)
def _forget_task_id(**kwargs: Any) -> None:
    from scrm.observability.context import request_id_set

    request_id_set("")
