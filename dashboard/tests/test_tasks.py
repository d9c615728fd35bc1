"""The periodic work: beat's entries, one refresh at a time per tenant, the backfill
command with its check, and beat's fan-out through a real worker."""

from datetime import timedelta
from io import StringIO

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import test_database_url
from contacts.models import Guide
from dashboard.aggregates import dashboard_refresh
from dashboard.models import RefreshState, StoreDay
from dashboard.tasks import dashboard_backfill_task, dashboard_refresh_task
from dashboard.tests.helpers import at, generate, relate
from lifecycle.models import StageCount
from lifecycle.tasks import customer_stages_recompute_task
from scrm.celery import TASK_QUEUES, app
from scrm.tenant_tasks import fan_out_to_tenants
from tests.polling import wait_until


def test_beat_refreshes_the_dashboard_and_the_stages_of_every_tenant():
    fanned = [
        entry
        for entry in app.conf.beat_schedule.values()
        if entry["task"] == "scrm.tenant_tasks.fan_out_to_tenants"
    ]
    dashboard = [e for e in fanned if e["kwargs"]["task_name"] == dashboard_refresh_task.name]
    # every 5 minutes the recent days, nightly the last week
    assert sorted(e["kwargs"].get("days", 2) for e in dashboard) == [2, 7]
    assert min(e["schedule"] for e in dashboard if isinstance(e["schedule"], float)) <= 300
    assert any(e["kwargs"]["task_name"] == customer_stages_recompute_task.name for e in fanned)
    assert TASK_QUEUES[dashboard_refresh_task.name] == "default"
    assert TASK_QUEUES[customer_stages_recompute_task.name] == "bulk"


def test_a_refresh_running_elsewhere_is_not_run_twice(db, tenant_a):
    with schema_context("alpha"):
        relate(Guide.objects.create(userid="amy", name="Amy"), added=at(timezone.localdate()))
    # given another session holding alpha's dashboard lock (a refresh in progress)
    other = psycopg2.connect(test_database_url())
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext('dashboard:alpha'))")
        with schema_context("alpha"):
            assert dashboard_refresh().skipped is True
            assert not StoreDay.objects.exists()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext('dashboard:alpha'))")
    finally:
        other.close()
    # once it is over, the next refresh runs
    with schema_context("alpha"):
        assert dashboard_refresh().skipped is False
        assert StoreDay.objects.get().adds == 1


def test_the_backfill_command_builds_and_checks(db, tenant_a):
    with schema_context("alpha"):
        generate(5, relations=120, days=30, today=timezone.localdate())
    out = StringIO()

    call_command("dashboard_backfill", schema="alpha", check=True, stdout=out)

    assert "the aggregates equal a direct count of the relations" in out.getvalue()
    # a day's row that drifted from the relations is found
    with schema_context("alpha"):
        row = StoreDay.objects.filter(adds__gt=0).order_by("day").first()
        assert row is not None
        StoreDay.objects.filter(pk=row.pk).update(adds=row.adds + 1)
    with pytest.raises(CommandError, match="differences"):
        call_command(
            "dashboard_backfill", schema="alpha", check=True, no_build=True, stderr=StringIO()
        )
    with pytest.raises(CommandError, match="no tenant"):
        call_command("dashboard_backfill", schema="public")


def test_the_backfill_can_run_on_a_worker(
    db, tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[dict] = []
    monkeypatch.setattr(
        dashboard_backfill_task, "apply_async", lambda **kwargs: queued.append(kwargs)
    )
    first = timezone.localdate() - timedelta(days=40)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("dashboard_backfill", schema="alpha", first=first, queue=True)

    assert queued == [{"kwargs": {"first": first.isoformat(), "tenant_schema": "alpha"}}]
    # what the worker runs
    with schema_context("alpha"):
        relate(Guide.objects.create(userid="amy", name="Amy"), added=at(first + timedelta(days=1)))
    assert dashboard_backfill_task(tenant_schema="alpha", first=first.isoformat()) == 41
    with schema_context("alpha"):
        assert StoreDay.objects.get(day=first + timedelta(days=1)).adds == 1


@pytest.mark.slow
def test_beats_fan_out_refreshes_each_tenant_on_the_worker(committed_db, celery_worker):
    # given relations in alpha only
    with schema_context("alpha"):
        guide = Guide.objects.create(userid="amy", name="Amy")
        for hours in (1, 2, 3):
            relate(guide, added=timezone.now() - timedelta(hours=hours))

    # when beat's entries fan out
    fan_out_to_tenants.delay(task_name=dashboard_refresh_task.name)
    fan_out_to_tenants.delay(task_name=customer_stages_recompute_task.name)

    # then each tenant's dashboard and stages are computed in its own schema
    def refreshed(schema: str) -> bool:
        with schema_context(schema):
            state = RefreshState.objects.first()
            return bool(state and state.refreshed_at and StageCount.objects.exists())

    wait_until(lambda: refreshed("alpha") and refreshed("beta"), timeout=60)
    with schema_context("alpha"):
        assert sum(StoreDay.objects.values_list("adds", flat=True)) == 3
        assert StageCount.objects.get(day=timezone.localdate(), stage="new").count == 3
    with schema_context("beta"):
        assert not StoreDay.objects.exists()
