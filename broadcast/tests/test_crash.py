"""A group send survives its worker dying anywhere in planning and dispatch, including
between WeCom creating a template and the platform recording it: after the guides confirm
every template WeCom holds (as they would in their app), each planned customer received
the message exactly once (the sandbox's log of received messages is the truth)."""

import random
import signal
import time
from collections import Counter
from datetime import datetime

import pytest
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from broadcast import dispatch, planning
from broadcast.dispatch import broadcast_dispatch
from broadcast.models import Broadcast, Chunk, Delivery
from broadcast.planning import broadcast_plan, broadcast_plan_start
from broadcast.services import BroadcastData, broadcast_confirm, broadcast_create, broadcast_sync
from broadcast.tests.helpers import CORP_ID, everyone, setup_corp
from conftest import celery_worker_start, own_queues
from scrm.wecom.client import wecom_client

PAST = timezone.now() - timezone.timedelta(days=1)
TEXT = "会员日全场 8 折"


class Killed(BaseException):
    """Stands for the worker dying (SIGKILL): nothing after it runs."""


def new_broadcast() -> Broadcast:
    return broadcast_create(
        data=BroadcastData(name="会员日", text=TEXT, audience="segment", segment_id=everyone().pk)
    )


def wecom_templates(senders: list[str]) -> list[str]:
    """Every template WeCom holds for these senders today (what guides see in their app)."""
    client = wecom_client()
    now = int(time.time()) + 3600 * 24
    msgids = []
    for sender in senders:
        for template in dispatch._wecom_templates(
            client,
            "single",
            sender,
            datetime.fromtimestamp(now - 3 * 24 * 3600, tz=timezone.get_current_timezone()),
            datetime.fromtimestamp(now, tz=timezone.get_current_timezone()),
        ):
            if (template.get("text") or {}).get("content") == TEXT:
                msgids.append(template["msgid"])
    return msgids


def everyone_received_it_once(control, broadcast: Broadcast) -> None:
    planned = set(
        broadcast.deliveries.exclude(status__in=Delivery.EXCLUDED).values_list("target", flat=True)
    )
    templates = wecom_templates(["amy", "bob", "cat"])
    assert len(templates) == broadcast.chunks.count()  # no template created twice
    for msgid in templates:
        control.confirm_template(CORP_ID, msgid)
    assert broadcast_sync(broadcast_id=broadcast.pk) == Broadcast.Status.DONE
    received: Counter = Counter()
    for target in planned:
        for message in control.received(CORP_ID, target)["group_messages"]:
            if message["text"] == TEXT:
                received[target] += 1
    assert set(received) == planned
    assert set(received.values()) == {1}, [t for t, n in received.items() if n != 1]
    assert set(broadcast.deliveries.values_list("status", flat=True)) == {"sent"}


def claims_run_out(broadcast: Broadcast) -> None:
    Broadcast.objects.filter(pk=broadcast.pk).update(lease_until=PAST)
    Chunk.objects.filter(broadcast=broadcast, status="claimed").update(claimed_until=PAST)


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    setup_corp(wecom_sandbox, tenant_a, amy_customers=40)
    with schema_context("alpha"), override_settings(BROADCAST_CHUNK_SIZE=7):
        yield wecom_sandbox.control


def test_killed_while_planning_leaves_nothing_and_plans_again(corp, monkeypatch):
    broadcast = new_broadcast()
    real = planning._insert_customer_deliveries

    def dying(b):
        real(b)
        raise Killed

    monkeypatch.setattr(planning, "_insert_customer_deliveries", dying)
    with pytest.raises(Killed):
        broadcast_plan(broadcast_id=broadcast.pk)
    assert not Delivery.objects.filter(broadcast=broadcast).exists()
    monkeypatch.setattr(planning, "_insert_customer_deliveries", real)
    broadcast_plan(broadcast_id=broadcast.pk)
    broadcast = broadcast_confirm(broadcast=broadcast)
    assert broadcast_dispatch(broadcast_id=broadcast.pk) == Broadcast.Status.WAITING
    everyone_received_it_once(corp, broadcast)


@pytest.mark.parametrize("moment", ["before WeCom", "after WeCom created it"])
def test_killed_around_creating_a_template(corp, monkeypatch, moment):
    broadcast = new_broadcast()
    broadcast_plan(broadcast_id=broadcast.pk)
    broadcast = broadcast_confirm(broadcast=broadcast)
    calls = []
    if moment == "before WeCom":
        real_post = dispatch.WeComClient.post

        def dying_post(self, url, *args, **kwargs):
            if "add_msg_template" in url:
                calls.append(1)
                if len(calls) == 3:
                    raise Killed
            return real_post(self, url, *args, **kwargs)

        monkeypatch.setattr(dispatch.WeComClient, "post", dying_post)
    else:
        real_created = dispatch._created

        def dying_created(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise Killed  # WeCom holds the template; its msgid is not saved
            return real_created(*args, **kwargs)

        monkeypatch.setattr(dispatch, "_created", dying_created)
    with pytest.raises(Killed):
        broadcast_dispatch(broadcast_id=broadcast.pk)
    monkeypatch.undo()
    claims_run_out(broadcast)
    assert broadcast_dispatch(broadcast_id=broadcast.pk) == Broadcast.Status.WAITING
    everyone_received_it_once(corp, broadcast)


@pytest.mark.slow
def test_twenty_sigkills_at_random_points_of_planning_and_dispatch(
    committed_db, wecom_sandbox, tenant_a, tmp_path
):
    """A real worker process SIGKILLed at 20 random moments while it plans the send and
    creates 60 templates, WeCom delaying each answer (the template exists, the platform
    does not know yet); the beat's tick brings the work back after every restart."""
    from broadcast.tasks import broadcast_tick_task

    control = wecom_sandbox.control
    setup_corp(wecom_sandbox, tenant_a, amy_customers=400)
    control.set_faults(
        {"externalcontact/add_msg_template": {"latency_ms": 30, "reply_latency_ms": 250}}
    )
    log = tmp_path / "worker.log"
    rng = random.Random()
    kills = 0
    with schema_context("alpha"), own_queues() as queues:
        env = {"BROADCAST_LEASE_SECONDS": "1", "BROADCAST_CHUNK_SIZE": "7", **queues}
        broadcast = new_broadcast()
        worker = celery_worker_start(log, **env)
        broadcast_plan_start(broadcast=broadcast)
        try:
            while kills < 20:
                current = Broadcast.objects.get(pk=broadcast.pk)
                if current.status == Broadcast.Status.READY:
                    broadcast_confirm(broadcast=current)
                elif current.status not in (
                    Broadcast.Status.PLANNING,
                    Broadcast.Status.DISPATCHING,
                ):
                    break
                time.sleep(rng.uniform(0.05, 0.6))
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                kills += 1
                time.sleep(1.1)  # the dead worker's claims run out
                worker = celery_worker_start(log, **env)
                broadcast_tick_task(tenant_schema="alpha")  # the beat, every minute
                from django.db import connection

                connection.set_schema("alpha")
            deadline = time.monotonic() + 120
            while True:
                current = Broadcast.objects.get(pk=broadcast.pk)
                if current.status == Broadcast.Status.READY:
                    broadcast_confirm(broadcast=current)
                elif current.status == Broadcast.Status.WAITING:
                    break
                assert time.monotonic() < deadline, (current.status, log.read_text()[-3000:])
                time.sleep(0.3)
        finally:
            worker.terminate()
            worker.wait(timeout=15)
        control.clear_faults()
        assert kills == 20, f"the send finished after {kills} kills: make it longer"
        print(f"\nkills: {kills}; adopted: {log.read_text().count('adopted template')}")
        everyone_received_it_once(control, Broadcast.objects.get(pk=broadcast.pk))
