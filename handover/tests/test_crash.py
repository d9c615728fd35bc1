"""A handover survives its worker dying anywhere: before WeCom got a batch, after WeCom
accepted it but before the platform saved it, in the middle of reading results, and a real
worker process killed with SIGKILL several times. Every customer is transferred once in the
sandbox (its log of transfers is the truth) and none is lost."""

import random
import signal
import time
from collections import Counter

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import celery_worker_start, own_queues
from contacts.models import Guide, Relation
from handover import transfer
from handover.models import Handover, TransferItem
from handover.services import handover_start
from handover.tests.helpers import CORP_ID, DAY, followers, setup_corp
from handover.transfer import handover_poll, handover_send

S = TransferItem.Status
PAST = timezone.now() - timezone.timedelta(days=1)


class Killed(BaseException):
    """Stands for the worker dying (SIGKILL): nothing after it runs."""


def leases_run_out(handover: Handover) -> None:
    """What time does for a dead worker's claims."""
    Handover.objects.filter(pk=handover.pk).update(lease_until=PAST)
    handover.items.filter(status=S.SENDING).update(claimed_until=PAST)


def transfers_per_customer(control) -> Counter:
    return Counter(t["external_userid"] for t in control.transfers(CORP_ID))


def departed_amy(control) -> Guide:
    control.member_leaves(CORP_ID, "amy")
    amy = Guide.objects.get(userid="amy")
    amy.status = Guide.Status.DEPARTED
    amy.save()
    return amy


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    setup_corp(wecom_sandbox, tenant_a, customers=250)  # three batches of amy's customers
    with schema_context("alpha"):
        yield wecom_sandbox.control


def everyone_moved_once(control, handover: Handover) -> None:
    counts = transfers_per_customer(control)
    customers = handover.items.filter(target=TransferItem.Target.CUSTOMER)
    assert customers.count() == 250
    assert set(counts.values()) == {1}, [c for c, n in counts.items() if n != 1]
    assert set(counts) == set(customers.values_list("external_id", flat=True))
    control.advance_clock(DAY + 60)
    assert handover_poll(handover_id=handover.pk) == Handover.Status.DONE
    for item in customers.select_related("to_guide"):
        assert item.status == S.ACCEPTED
        assert item.to_guide is not None
        assert followers(control, item.external_id) == [item.to_guide.userid]
    assert not Relation.objects.filter(guide__userid="amy", status="active").exists()


def start(amy: Guide) -> Handover:
    return handover_start(from_guides=[amy], mode=Handover.Mode.EVEN_STORE, include_chats=False)


def test_killed_before_wecom_got_the_batch(corp, monkeypatch):
    handover = start(departed_amy(corp))
    real_post = transfer.WeComClient.post
    calls = []

    def dying_post(self, url, *args, **kwargs):
        if "transfer_customer" in url:
            calls.append(url)
            if len(calls) == 2:
                raise Killed
        return real_post(self, url, *args, **kwargs)

    monkeypatch.setattr(transfer.WeComClient, "post", dying_post)
    with pytest.raises(Killed):
        handover_send(handover_id=handover.pk)
    assert handover.items.filter(status=S.SENDING).count() == 83  # cat's batch (250 = 84+83+83)
    assert transfers_per_customer(corp).total() == 84
    leases_run_out(handover)
    assert handover_send(handover_id=handover.pk) == Handover.Status.WAITING
    everyone_moved_once(corp, handover)


def test_killed_after_wecom_accepted_the_batch_adopts_it(corp, monkeypatch):
    handover = start(departed_amy(corp))
    real_save, saves = transfer._save, []

    def dying_save(items):
        saves.append(len(items))
        if len(saves) == 2:
            raise Killed  # WeCom has the second batch; the platform never saved it
        return real_save(items)

    monkeypatch.setattr(transfer, "_save", dying_save)
    with pytest.raises(Killed):
        handover_send(handover_id=handover.pk)
    assert transfers_per_customer(corp).total() == 84 + 83
    assert handover.items.filter(status=S.SENDING).count() == 83
    monkeypatch.setattr(transfer, "_save", real_save)
    leases_run_out(handover)

    assert handover_send(handover_id=handover.pk) == Handover.Status.WAITING
    # the dead batch was found in WeCom's results and adopted, not sent again
    assert transfers_per_customer(corp).total() == 250
    everyone_moved_once(corp, handover)


def test_killed_while_reading_results_loses_nothing(corp, monkeypatch):
    handover = start(departed_amy(corp))
    handover_send(handover_id=handover.pk)
    corp.advance_clock(DAY + 60)
    real_move, moves = transfer.relations_move, []

    def dying_move(**kwargs):
        moves.append(1)
        if len(moves) == 2:
            raise Killed
        return real_move(**kwargs)

    monkeypatch.setattr(transfer, "relations_move", dying_move)
    with pytest.raises(Killed):
        handover_poll(handover_id=handover.pk)
    monkeypatch.setattr(transfer, "relations_move", real_move)
    assert handover_poll(handover_id=handover.pk) == Handover.Status.DONE
    everyone_moved_once(corp, handover)


@pytest.mark.slow
def test_a_worker_killed_with_sigkill_mid_transfer_and_restarted(
    committed_db, wecom_sandbox, tenant_a, tmp_path
):
    """A real worker process, SIGKILLed three times at random moments while WeCom holds
    its answers (the batch is done in WeCom, not yet saved here)."""
    from scrm.tenant_tasks import enqueue

    control = wecom_sandbox.control
    setup_corp(wecom_sandbox, tenant_a, customers=250)
    control.set_faults(
        {"externalcontact/resigned/transfer_customer": {"latency_ms": 100, "reply_latency_ms": 500}}
    )
    log = tmp_path / "worker.log"
    rng = random.Random()
    kills = 0
    with schema_context("alpha"), own_queues() as queues:
        lease = {"HANDOVER_LEASE_SECONDS": "2", **queues}
        worker = celery_worker_start(log, **lease)
        handover = start(departed_amy(control))  # queued to the worker after the commit
        try:
            for _round in range(3):
                time.sleep(rng.uniform(0.2, 1.0))
                if not handover.items.filter(status__in=[S.PENDING, S.SENDING]).exists():
                    break
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                kills += 1
                time.sleep(2.2)  # the dead worker's claims run out
                worker = celery_worker_start(log, **lease)
                enqueue(transfer_task(), handover_id=handover.pk)  # what the beat's tick does
            deadline = time.monotonic() + 90
            while Handover.objects.get(pk=handover.pk).status == Handover.Status.SENDING:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.3)
        finally:
            worker.terminate()
            worker.wait(timeout=15)
        assert kills >= 1
        control.clear_faults()
        everyone_moved_once(control, Handover.objects.get(pk=handover.pk))


def transfer_task():
    from handover.tasks import handover_send_task

    return handover_send_task
