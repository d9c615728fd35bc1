"""Webhooks through real Celery workers on the `webhooks` queue: a customer who scans a live
code in the WeCom sandbox reaches a receiver on loopback as a correctly signed customer.added
(the sandbox's encrypted callback, the live server, the callback's worker, the webhook's
worker), and only the tenant's own endpoints get it; a receiver that fails 3 times gets the
event a 4th time, once, with the retry schedule set to tiny values in the worker; a worker
killed in the middle of a delivery loses nothing."""

import json
import os
import signal
import time

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import celery_worker_start, own_queues
from contacts.models import Customer, Guide
from contacts.upserts import follow_row, relations_upsert
from scrm.wecom.client import wecom_client
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tests.polling import wait_until
from webhooks.models import Attempt, Delivery
from webhooks.services import deliveries_requeue
from webhooks.tests.helpers import Receiver, make_endpoint, signature_is_valid

CORP_ID = "wwwebhookse2e01"
TOKEN = "sandboxToken"
AES_KEY = "A" * 43

pytestmark = pytest.mark.slow


def test_a_scan_in_wecom_reaches_the_receiver_as_a_signed_customer_added(
    live_web, celery_worker, wecom_sandbox, tenant_a, tenant_b
):
    control = wecom_sandbox.control
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    control.set_callback(
        CORP_ID,
        "customer_contact",
        f"{live_web}/wecom/callback/{CORP_ID}/customer_contact/",
        token=TOKEN,
        encoding_aes_key=AES_KEY,
    )
    control.add_member(CORP_ID, "guide01", name="导购一", notify=False)
    with Receiver() as alpha_receiver, Receiver() as beta_receiver:
        with schema_context("alpha"):
            _endpoint, secret = make_endpoint(alpha_receiver.url, ["customer.added"])
            way = wecom_client().post(
                "externalcontact/add_contact_way",
                data={"type": 1, "scene": 2, "state": "store-42", "user": ["guide01"]},
            )
        with schema_context("beta"):
            make_endpoint(beta_receiver.url, ["customer.added"])

        scan = control.scan(CORP_ID, way["config_id"], name="孙女士")

        [request] = wait_until(lambda: alpha_receiver.requests, timeout=60)
        time.sleep(1)  # nothing more arrives: one event, one delivery
        assert len(alpha_receiver.requests) == 1
        assert beta_receiver.requests == []

    assert signature_is_valid(request, secret)
    assert request.headers["X-SCRM-Event"] == "customer.added"
    body = json.loads(request.body)
    assert body["type"] == "customer.added"
    assert body["tenant"] == "alpha"
    assert body["id"] == request.headers["X-SCRM-Event-Id"]
    data = body["data"]
    assert data["customer"]["external_userid"] == scan["external_userid"]
    assert data["customer"]["name"] == "孙女士"
    assert data["guide"]["userid"] == "guide01"
    assert data["state"] == "store-42"
    with schema_context("alpha"):
        delivery = Delivery.objects.get()
        assert delivery.status == Delivery.Status.SUCCEEDED
        assert delivery.event.data["customer"]["external_userid"] == scan["external_userid"]
    with schema_context("beta"):
        assert not Delivery.objects.exists()


def _customer_added(external_userid: str) -> None:
    """The contact book records a new relation (as a callback's handler does)."""
    with transaction.atomic():
        Guide.objects.get_or_create(userid="amy", defaults={"name": "Amy"})
        Customer.objects.create(external_userid=external_userid, name="孙女士")
        follow = {"userid": "amy", "add_way": 1, "createtime": int(timezone.now().timestamp())}
        relations_upsert([follow_row(external_userid, follow)])


def test_a_receiver_failing_three_times_gets_the_event_once_more(committed_db, tmp_path):
    with own_queues() as queues, Receiver([500, 500, 500]) as receiver:
        worker = celery_worker_start(
            tmp_path / "worker.log", **queues, WEBHOOK_RETRY_SCHEDULE="0.3,0.3,0.3,0.3,0.3"
        )
        try:
            with schema_context("alpha"):
                _endpoint, secret = make_endpoint(receiver.url, ["customer.added"])
                _customer_added("wmRETRY0001")

            wait_until(lambda: len(receiver.requests) >= 4, timeout=30)
            time.sleep(1.5)  # the schedule has 5 retries: none comes after the success
        finally:
            worker.terminate()
            worker.wait(timeout=15)

    assert [r.status for r in receiver.requests] == [500, 500, 500, 200]
    assert all(signature_is_valid(r, secret) for r in receiver.requests)
    assert len({r.headers["X-SCRM-Event-Id"] for r in receiver.requests}) == 1
    with schema_context("alpha"):
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts) == (Delivery.Status.SUCCEEDED, 4)
        log = list(delivery.attempt_log.values_list("number", "status_code", "failure"))
    assert log == [(1, 500, "http"), (2, 500, "http"), (3, 500, "http"), (4, 200, "")]


def test_a_worker_killed_in_the_middle_of_a_delivery_loses_nothing(committed_db, tmp_path):
    with own_queues() as queues, Receiver(delays=[30]) as receiver:
        env = {**queues, "WEBHOOK_LEASE_SECONDS": "2"}
        worker = celery_worker_start(tmp_path / "worker.log", **env)
        with schema_context("alpha"):
            _endpoint, secret = make_endpoint(receiver.url, ["customer.added"])
            _customer_added("wmKILLED001")

        # the worker is waiting for the receiver's answer when it dies
        wait_until(lambda: receiver.requests, timeout=30)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=15)
        with schema_context("alpha"):
            delivery = Delivery.objects.get()
            assert delivery.status == Delivery.Status.SENDING

            # once the lease has run out, the periodic job queues it again
            time.sleep(2.5)
            assert deliveries_requeue() == 1
        second = celery_worker_start(tmp_path / "worker.log", **env)
        try:

            def delivered():
                with schema_context("alpha"):
                    delivery.refresh_from_db()
                    return delivery.status == Delivery.Status.SUCCEEDED

            wait_until(delivered, timeout=30)
        finally:
            second.terminate()
            second.wait(timeout=15)

    # at least once: the request the dead worker made arrived too, with the same event id
    assert len(receiver.requests) == 2
    assert len({r.headers["X-SCRM-Event-Id"] for r in receiver.requests}) == 1
    assert all(signature_is_valid(r, secret) for r in receiver.requests)
    with schema_context("alpha"):
        assert list(Attempt.objects.values_list("number", "status_code")) == [(1, 200)]
