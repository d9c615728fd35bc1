"""The periodic tick and the triggers: automatic start after the grace period, a dead
worker's handover resumed, results polled when due, transfer_fail bringing the poll forward."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from contacts.models import Guide
from handover.models import Handover, TransferItem
from handover.services import handover_settings, handover_start, proposals_start_due
from handover.tasks import handover_tick_task
from handover.tests.helpers import CORP_ID, last_callback_id, replay_callbacks, setup_corp
from handover.transfer import handover_send


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


def tick() -> dict[str, int]:
    """The beat's per-tenant tick (the task switches schemas: come back to alpha)."""
    result = handover_tick_task(tenant_schema="alpha")
    connection.set_schema("alpha")
    return result


def amy_leaves(control) -> None:
    since = last_callback_id(control)
    control.member_leaves(CORP_ID, "amy")
    replay_callbacks(control, since)


def test_with_automatic_start_a_proposal_starts_after_the_grace_period(guides, wecom_sandbox):
    options = handover_settings()
    options.auto_start, options.grace_hours = True, 12
    options.save()
    amy_leaves(wecom_sandbox.control)
    proposal = Handover.objects.get()
    assert proposal.start_after is not None
    assert proposal.start_after - timezone.now() > timedelta(hours=11)

    assert proposals_start_due() == []  # still within the grace period
    started = proposals_start_due(now=timezone.now() + timedelta(hours=13))
    assert started == [proposal.pk]
    proposal.refresh_from_db()
    assert proposal.status == Handover.Status.SENDING
    takers = set(proposal.items.values_list("to_guide__userid", flat=True))
    assert takers == {"bob", "cat", "dan"}


def test_without_automatic_start_the_proposal_waits_for_an_operator(guides, wecom_sandbox):
    amy_leaves(wecom_sandbox.control)
    proposal = Handover.objects.get()
    assert proposal.start_after is None
    assert proposals_start_due(now=timezone.now() + timedelta(days=30)) == []
    # a second delete_user for the same member proposes nothing more
    amy_leaves_again = replay_callbacks(wecom_sandbox.control, 0)
    assert "delete_user" in amy_leaves_again
    assert Handover.objects.count() == 1


def test_an_automatic_start_that_finds_no_taker_stays_proposed_with_the_reason(
    guides, wecom_sandbox
):
    options = handover_settings()
    options.auto_start, options.grace_hours = True, 0
    options.save()
    Guide.objects.exclude(userid="amy").update(status=Guide.Status.DEPARTED)
    amy_leaves(wecom_sandbox.control)
    proposal = Handover.objects.get(from_guides__userid="amy")
    assert proposals_start_due(now=timezone.now() + timedelta(minutes=1)) == []
    proposal.refresh_from_db()
    assert proposal.status == Handover.Status.PROPOSED
    assert proposal.start_after is None
    assert proposal.note  # shown to the operator


def test_the_tick_resumes_dead_workers_and_polls_when_due(
    guides, wecom_sandbox, django_capture_on_commit_callbacks
):
    handover = handover_start(
        from_guides=[guides["bob"]], mode=Handover.Mode.ONE, takers=[guides["cat"]]
    )
    with django_capture_on_commit_callbacks(execute=False):
        # a worker died holding the lease; now it has run out
        Handover.objects.filter(pk=handover.pk).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
        assert tick()["resumed"] == 1

    handover_send(handover_id=handover.pk)
    handover.refresh_from_db()
    assert handover.status == Handover.Status.WAITING
    Handover.objects.filter(pk=handover.pk).update(
        next_poll_at=timezone.now() + timedelta(minutes=10)
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert tick()["polled"] == 0

    # a transfer_fail callback (the customer refused) brings the poll forward
    since = last_callback_id(wecom_sandbox.control)
    wecom_sandbox.control.decide_transfer(CORP_ID, "wmB0000", "refuse")
    assert "transfer_fail" in replay_callbacks(wecom_sandbox.control, since)
    with django_capture_on_commit_callbacks(execute=False):
        assert tick()["polled"] == 1
    assert handover.items.get(external_id="wmB0000").status == TransferItem.Status.WAITING
