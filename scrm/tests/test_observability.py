"""Platform health: /metrics, the admin's health page, WeCom call counters, and logs that
carry tenant and request ids."""

import io
import json
import logging
import logging.config
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import User
from conftest import own_queues
from scrm.celery import TASK_QUEUES
from scrm.observability.logconfig import logging_config
from scrm.observability.logs import REQUEST_ID_HEADER, RequestIdMiddleware
from scrm.wecom.client import wecom_client
from scrm.wecom.errors import WeComPermanentError
from scrm.wecom.models import CallbackEvent
from scrm.wecom.tasks import media_refresh_task
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox

CORP_ID = "wwhealthcorp0001"
API = "externalcontact/get_follow_user_list"


@pytest.fixture
def sandbox(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    yield wecom_sandbox
    wecom_sandbox.control.clear_faults()


@pytest.fixture
def staff_client(db, public_client):
    staff = User.objects.create_superuser("root", "root@example.com", "pw")
    public_client.force_login(staff)
    return public_client


def callbacks_waiting_and_done() -> None:
    """One callback waiting for 2 minutes, two processed in 2 s and 4 s."""
    now = timezone.now()
    with schema_context("alpha"):
        CallbackEvent.objects.create(
            app_kind="customer_contact",
            dedupe_key="waiting",
            event="change_external_contact",
            raw_xml="<xml/>",
            received_at=now - timedelta(seconds=120),
        )
        for key, seconds in (("fast", 2), ("slow", 4)):
            CallbackEvent.objects.create(
                app_kind="customer_contact",
                dedupe_key=key,
                event="change_external_contact",
                raw_xml="<xml/>",
                status=CallbackEvent.Status.DONE,
                received_at=now - timedelta(seconds=30),
                processed_at=now - timedelta(seconds=30 - seconds),
            )


def wecom_calls_with_one_permanent_error(sandbox) -> None:
    with schema_context("alpha"):
        wecom_client().external_contact.get_follow_user_list()
        sandbox.control.set_faults({API: {"error_rate": 1.0, "errcode": 48002, "times": 1}})
        with pytest.raises(WeComPermanentError):
            wecom_client().external_contact.get_follow_user_list()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_expose_callback_lag_queue_depth_and_wecom_errors_per_tenant(
    sandbox, public_client
):
    callbacks_waiting_and_done()
    wecom_calls_with_one_permanent_error(sandbox)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    with own_queues() as queues:
        prefix = queues["SCRM_QUEUE_PREFIX"]
        for _ in range(3):  # no worker consumes these queues: the tasks stay queued
            media_refresh_task.apply_async(kwargs={"tenant_schema": "alpha"})
        try:
            response = public_client.get("/metrics")
        finally:
            broker.delete(*(prefix + q for q in ("high", "default", "bulk")))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response.content.decode())
    alpha = (("tenant", "alpha"),)
    assert found[("scrm_callback_backlog", alpha)] == 1
    assert found[("scrm_callback_oldest_pending_age_seconds", alpha)] >= 120
    assert 3.5 < found[("scrm_callback_lag_p95_seconds", alpha)] <= 4.0
    queue = TASK_QUEUES[media_refresh_task.name]
    assert found[("scrm_queue_depth", (("queue", prefix + queue),))] == 3
    assert (
        found[("scrm_tenant_queued_tasks", (("queue", prefix + queue), ("tenant", "alpha")))] == 3
    )
    assert found[("scrm_wecom_errors_total", (("errcode", "48002"), ("tenant", "alpha")))] == 1
    assert (
        found[("scrm_wecom_calls_total", (("api", API), ("errcode", "0"), ("tenant", "alpha")))]
        == 1
    )
    assert (
        found[("scrm_wecom_calls_total", (("api", API), ("errcode", "48002"), ("tenant", "alpha")))]
        == 1
    )
    # the other tenant has its own, empty series: nothing of alpha's is counted there
    beta = (("tenant", "beta"),)
    assert found[("scrm_callback_backlog", beta)] == 0
    assert not [key for key in found if key[0] == "scrm_wecom_errors_total" and beta[0] in key[1]]


def test_metrics_need_the_token_when_one_is_set(db, public_client):
    with override_settings(SCRM_METRICS_TOKEN="s3cret-metrics-token"):
        assert public_client.get("/metrics").status_code == 401
        wrong = public_client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
        assert wrong.status_code == 401
        right = public_client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
        assert right.status_code == 200
    with override_settings(SCRM_METRICS_TOKEN="", SCRM_ENV="production"):
        assert public_client.get("/metrics").status_code == 403


def test_metrics_are_not_served_on_a_tenant_host(db, client_a):
    assert client_a.get("/metrics").status_code == 404


def test_health_page_shows_each_tenant_with_its_alarms(sandbox, staff_client):
    callbacks_waiting_and_done()
    wecom_calls_with_one_permanent_error(sandbox)

    page = staff_client.get("/admin/health/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Alpha 品牌" in html
    assert "Beta 品牌" in html
    assert "48002" in html
    assert "回调" in html  # Chinese first
    alpha = next(t for t in page.context["health"].tenants if t.schema == "alpha")
    assert alpha.callback_backlog == 1
    assert any(alarm.startswith("回调积压：最早一条已等待 12") for alarm in alpha.alarms)
    assert alpha.wecom_calls_24h == 3  # gettoken, one success, one 48002
    assert [(e.outcome, e.count) for e in alpha.wecom_errors_24h] == [("48002", 1)]

    as_json = staff_client.get("/admin/health/?format=json").json()
    alpha_json = next(t for t in as_json["tenants"] if t["schema"] == "alpha")
    assert alpha_json["wecom_errors_24h"] == {"48002": 1}
    assert "平台健康" in staff_client.get("/admin/").content.decode()  # linked from the index


def test_health_page_is_for_platform_staff_only(db, public_client, client_a):
    assert public_client.get("/admin/health/").status_code == 302  # to the admin login
    assert client_a.get("/admin/health/").status_code == 404


def json_records(make_records) -> list[dict]:
    """Log records as the JSON handler of the LOGGING setting writes them."""
    config = logging_config(log_format="json", level="INFO")
    config["handlers"]["console"]["stream"] = stream = io.StringIO()
    config["root"] = {"handlers": [], "level": "INFO"}
    config["loggers"] = {"scrm.test": {"handlers": ["console"], "level": "INFO"}}
    logging.config.dictConfig(config)
    try:
        make_records(logging.getLogger("scrm.test"))
    finally:
        logging.config.dictConfig(settings.LOGGING)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_logs_carry_tenant_and_request_id(db, rf):
    seen = {}

    def view(request):
        with schema_context("alpha"):
            logging.getLogger("scrm.test").info("导购 added a customer")
        from django.http import HttpResponse

        return HttpResponse("ok")

    def make_records(logger):
        middleware = RequestIdMiddleware(view)
        seen["given"] = middleware(rf.get("/", HTTP_X_REQUEST_ID="proxy-id-42"))
        seen["made"] = middleware(rf.get("/", HTTP_X_REQUEST_ID="bad id\nwith newline"))
        logger.info("outside any request")

    given, made, outside = json_records(make_records)
    assert given["message"] == "导购 added a customer"  # not escaped to \\u....
    assert given["tenant"] == "alpha"
    assert given["request_id"] == "proxy-id-42"
    assert given["level"] == "INFO"
    assert {"timestamp", "logger"} <= set(given)
    assert seen["given"][REQUEST_ID_HEADER] == "proxy-id-42"
    # an unacceptable id from outside is replaced, never written to the logs
    assert made["request_id"] == seen["made"][REQUEST_ID_HEADER]
    assert "\n" not in made["request_id"]
    assert len(made["request_id"]) == 32
    assert outside["request_id"] == "-"


@pytest.mark.slow
def test_worker_logs_json_with_tenant_and_task_id_and_its_wecom_errors_reach_metrics(
    committed_db, wecom_sandbox, tenant_a, public_client, tmp_path
):
    from conftest import celery_worker_start
    from contacts.models import SyncRun
    from contacts.services import sync_start
    from tests.polling import wait_until

    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    wecom_sandbox.control.set_faults({"department/list": {"error_rate": 1.0, "errcode": 60011}})
    log = tmp_path / "worker.log"
    with own_queues() as queues:
        worker = celery_worker_start(log, LOG_FORMAT="json", **queues)
        try:
            with schema_context("alpha"):
                run = sync_start(trigger="api")
                wait_until(
                    lambda: SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.FAILED,
                    timeout=30,
                )
        finally:
            worker.terminate()
            worker.wait(timeout=15)
            wecom_sandbox.control.clear_faults()

    records = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    failed = [r for r in records if f"sync #{run.pk} failed" in r["message"]]
    assert failed, log.read_text()[-3000:]
    assert failed[0]["tenant"] == "alpha"
    assert failed[0]["level"] == "WARNING"
    (task_id,) = {r["request_id"] for r in failed}
    assert task_id != "-"
    assert any(task_id in r["message"] for r in records)  # Celery's own lines name it too

    # the worker's WeCom error is on /metrics, read by another process
    found = samples(public_client.get("/metrics").content.decode())
    key = ("scrm_wecom_errors_total", (("errcode", "60011"), ("tenant", "alpha")))
    assert found[key] == 1
