"""Tenant-aware Celery tasks.

Every tenant task takes `tenant_schema` plus plain JSON ids, switches to that schema itself,
refuses `public`, and is queued only after the surrounding transaction commits:

    @tenant_task(queue="bulk")
    def broadcast_dispatch_task(*, tenant_schema: str, broadcast_id: int) -> None:
        broadcast_dispatch(broadcast_id=broadcast_id)

    enqueue(broadcast_dispatch_task, broadcast_id=broadcast.id)   # inside a request/service

Periodic work is one beat entry per job that fans out one task per active tenant
(`fan_out_to_tenants`), never one task looping over every tenant.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import Ignore
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, schema_context

from scrm.celery import TASK_QUEUES, app

logger = logging.getLogger(__name__)
# The django-tenants connection (schema_name, set_schema_to_public), untyped upstream.
tenant_connection: Any = connection

QUEUES = ("high", "default", "bulk", "webhooks")


class TenantTaskRefused(Exception):
    """A tenant task was given arguments it must not run with (public schema, unknown tenant)."""


class Throttled(Exception):
    """Raised by work that must wait (a rate limit): the task is rescheduled, not slept."""

    retry_after: float = 1.0


def check_task_arguments(value: Any, path: str = "kwargs") -> None:
    """Refuse anything that is not plain JSON (model instances, sets, dates...)."""
    if value is None or isinstance(value, str | int | float | bool):
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_task_arguments(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: task argument keys must be strings, got {key!r}")
            check_task_arguments(item, f"{path}.{key}")
        return
    raise TypeError(f"{path}: tenant tasks take plain JSON arguments, got {type(value).__name__}")


def _active_tenant_or_refuse(tenant_schema: Any) -> bool:
    """Validate the schema argument; False when the tenant is deactivated (skip quietly)."""
    from tenants.models import Tenant

    if not isinstance(tenant_schema, str) or not tenant_schema:
        raise TenantTaskRefused(f"tenant_schema must be a non-empty string, got {tenant_schema!r}")
    if tenant_schema == get_public_schema_name():
        raise TenantTaskRefused("tenant tasks never run in the public schema")
    tenant_connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=tenant_schema).only("is_active").first()
    if tenant is None:
        raise TenantTaskRefused(f"no tenant with schema {tenant_schema!r}")
    return tenant.is_active


def tenant_task(
    *, queue: str = "default", **celery_options: Any
) -> Callable[[Callable[..., Any]], Task]:
    """Declare a tenant task; the function receives `tenant_schema` and its keyword ids."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {QUEUES}")
    bind = bool(celery_options.get("bind"))

    def decorator(fn: Callable[..., Any]) -> Task:
        @functools.wraps(fn)
        def run(*args: Any, tenant_schema: str, **kwargs: Any) -> Any:
            if len(args) != (1 if bind else 0):
                raise TenantTaskRefused("tenant tasks take keyword arguments only")
            if not _active_tenant_or_refuse(tenant_schema):
                logger.info("skipping %s: tenant %s is deactivated", fn.__name__, tenant_schema)
                return None
            try:
                with schema_context(tenant_schema):
                    return fn(*args, tenant_schema=tenant_schema, **kwargs)
            except Throttled as exc:
                # Free the worker and come back when the limiter says. Throttling is not a
                # failure: a new message, not a retry (Celery's retry(max_retries=None)
                # still counts against the task's max_retries, and a busy limiter would
                # use them up and drop the work).
                logger.info("%s throttled; rescheduled in %.1f s", name, exc.retry_after)
                task.apply_async(
                    kwargs={**kwargs, "tenant_schema": tenant_schema},
                    countdown=exc.retry_after,
                )
                raise Ignore() from exc

        name = f"{fn.__module__}.{fn.__name__}"
        TASK_QUEUES[name] = queue
        task: Task = app.task(name=name, **celery_options)(run)
        return task

    return decorator


def enqueue(task: Task, /, **kwargs: Any) -> None:
    """Queue a tenant task for the current tenant once the current transaction commits.

    If the transaction rolls back, the task is never sent.
    """
    tenant_schema = kwargs.pop("tenant_schema", None) or tenant_connection.schema_name
    if tenant_schema == get_public_schema_name():
        raise TenantTaskRefused(f"{task.name}: no tenant selected; pass tenant_schema")
    check_task_arguments(kwargs)
    payload = {**kwargs, "tenant_schema": tenant_schema}
    transaction.on_commit(lambda: task.apply_async(kwargs=payload))


@app.task(name="scrm.tenant_tasks.fan_out_to_tenants")
def fan_out_to_tenants(*, task_name: str, **kwargs: Any) -> int:
    """Beat entry point: queue `task_name` once per active, provisioned tenant."""
    from tenants.selectors import tenant_schemas_for_periodic_work

    task = app.tasks[task_name]
    check_task_arguments(kwargs)
    schemas = tenant_schemas_for_periodic_work()
    for schema in schemas:
        task.apply_async(kwargs={**kwargs, "tenant_schema": schema})
    return len(schemas)
