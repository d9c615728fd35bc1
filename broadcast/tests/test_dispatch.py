"""Group sends against the sandbox: exactly the planned customers receive it once each
after their guides confirm; WeCom's frequency rule, the deadline, cancelling, reminders."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from broadcast.dispatch import broadcast_dispatch
from broadcast.models import Broadcast, BroadcastSettings, Chunk, Delivery
from broadcast.planning import BroadcastInputError
from broadcast.services import broadcast_cancel, broadcast_remind, broadcast_sync
from broadcast.tests.helpers import (
    CORP_ID,
    group_messages,
    guides_confirm,
    msgids,
    planned,
    setup_corp,
)
from scrm.wecom.client import wecom_client
from wecom_sandbox.testing import SandboxControlError

D = Delivery.Status
EVERYONE = [f"wmG{n:04d}" for n in range(17)]


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


def fates(broadcast: Broadcast) -> dict[str, str]:
    return dict(broadcast.deliveries.values_list("target", "status"))


def test_a_segment_receives_it_exactly_once_each_after_the_guides_confirm(guides, wecom_sandbox):
    control = wecom_sandbox.control
    control.set_limits(group_msg_monthly_cap=1)
    BroadcastSettings.objects.create(frequency_cap="day")
    # wmG0002 already got a group message today, sent by amy from her own phone: the
    # platform cannot know, WeCom will skip them
    own = wecom_client().post(
        "externalcontact/add_msg_template",
        data={"sender": "amy", "external_userid": ["wmG0002"], "text": {"content": "私发"}},
    )
    control.confirm_template(CORP_ID, own["msgid"])

    broadcast = planned()
    assert broadcast.status == Broadcast.Status.DISPATCHING
    assert broadcast_dispatch(broadcast_id=broadcast.pk) == Broadcast.Status.WAITING
    # one template per guide; wmG0015 (amy's and bob's) is in bob's only
    chunks = {c.sender.userid: c for c in broadcast.chunks.select_related("sender")}
    assert {u: c.recipients for u, c in chunks.items()} == {"amy": 10, "bob": 6, "cat": 1}
    template = control.template(CORP_ID, chunks["amy"].msgid)
    assert template["text"]["content"].startswith("导购amy 为您准备了")  # the sender's name
    assert not group_messages(control, EVERYONE, msgids(broadcast))  # guides decide when

    guides_confirm(control, broadcast)
    assert broadcast_sync(broadcast_id=broadcast.pk) == Broadcast.Status.DONE

    received = group_messages(control, EVERYONE, msgids(broadcast))
    assert set(received.values()) == {1}
    assert set(received) == set(EVERYONE) - {"wmG0002"}
    result = fates(broadcast)
    assert result.pop("wmG0002") == D.CAPPED  # WeCom's status, shown with its reason
    assert set(result.values()) == {D.SENT}
    broadcast.refresh_from_db()
    assert broadcast.counts == {"sent": 16, "capped": 1}

    # a second send today: the platform predicts the cap itself, for those it sent to and
    # for the one WeCom skipped
    with pytest.raises(BroadcastInputError, match="can be reached"):
        planned(name="第二次")
    again = Broadcast.objects.get(name="第二次")
    assert set(fates(again).values()) == {D.OVER_CAP}


def test_past_the_deadline_a_guide_who_never_confirms_is_cancelled_and_reported(
    guides, wecom_sandbox
):
    control = wecom_sandbox.control
    broadcast = planned(deadline=timezone.now() + timedelta(hours=2))
    broadcast_dispatch(broadcast_id=broadcast.pk)
    guides_confirm(control, broadcast, only="amy")
    assert broadcast_sync(broadcast_id=broadcast.pk) == Broadcast.Status.WAITING

    Broadcast.objects.filter(pk=broadcast.pk).update(deadline=timezone.now())
    assert broadcast_sync(broadcast_id=broadcast.pk) == Broadcast.Status.DONE
    result = fates(broadcast)
    assert {result[f"wmG{n:04d}"] for n in range(10)} == {D.SENT}
    assert {result[f"wmG{n:04d}"] for n in range(10, 17)} == {D.NOT_SENT}
    bob = broadcast.chunks.get(sender__userid="bob")
    assert bob.status == Chunk.Status.CANCELLED
    assert control.template(CORP_ID, bob.msgid)["cancelled"] is True


def test_cancelling_keeps_what_was_sent_and_cancels_the_rest_in_wecom(guides, wecom_sandbox):
    control = wecom_sandbox.control
    broadcast = planned()
    broadcast_dispatch(broadcast_id=broadcast.pk)
    guides_confirm(control, broadcast, only="cat")
    broadcast_sync(broadcast_id=broadcast.pk)

    broadcast_cancel(broadcast=broadcast)
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.CANCELLED
    assert fates(broadcast)["wmG0016"] == D.SENT
    assert {s for t, s in fates(broadcast).items() if t != "wmG0016"} == {D.CANCELLED}
    for chunk in broadcast.chunks.exclude(sender__userid="cat"):
        assert control.template(CORP_ID, chunk.msgid)["cancelled"] is True
    with pytest.raises(SandboxControlError, match="cancelled"):
        guides_confirm(control, broadcast, only="amy")


def test_reminders_reach_the_guides_at_most_three_times_a_day(guides, wecom_sandbox):
    control = wecom_sandbox.control
    broadcast = planned()
    broadcast_dispatch(broadcast_id=broadcast.pk)
    guides_confirm(control, broadcast, only="amy")
    broadcast_sync(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()

    assert broadcast_remind(broadcast=broadcast) == 2  # bob and cat; amy has sent
    assert broadcast_remind(broadcast=broadcast) == 2
    assert broadcast_remind(broadcast=broadcast) == 2
    assert broadcast_remind(broadcast=broadcast) == 0  # WeCom allows 3 per 24 h
    reminders = [m for m in control.member_messages(CORP_ID, "bob") if "群发提醒" in str(m)]
    assert len(reminders) == 3
    assert not [m for m in control.member_messages(CORP_ID, "amy") if "群发提醒" in str(m)]


def test_a_send_to_group_chats_goes_through_their_owner(guides, wecom_sandbox):
    control = wecom_sandbox.control
    broadcast = planned(chat_type="group", audience="chats", audience_ids=["wrGROUPAMY01"])
    broadcast_dispatch(broadcast_id=broadcast.pk)
    guides_confirm(control, broadcast)
    assert broadcast_sync(broadcast_id=broadcast.pk) == Broadcast.Status.DONE
    assert fates(broadcast) == {"wrGROUPAMY01": D.SENT}
    assert group_messages(control, ["wrGROUPAMY01"], msgids(broadcast)) == {"wrGROUPAMY01": 1}


def test_when_wecom_refuses_every_template_the_send_fails_with_wecoms_reason(guides, wecom_sandbox):
    wecom_sandbox.control.set_faults(
        {"externalcontact/add_msg_template": {"error_rate": 1, "errcode": 48002}}
    )
    broadcast = planned()
    assert broadcast_dispatch(broadcast_id=broadcast.pk) == Broadcast.Status.FAILED
    broadcast.refresh_from_db()
    assert "48002" in broadcast.error or "permission" in broadcast.error
    assert set(fates(broadcast).values()) == {D.FAILED}


def test_a_send_that_quiet_hours_push_past_its_deadline_is_not_confirmed(guides, wecom_sandbox):
    send_at = timezone.localtime() + timedelta(hours=1)
    with pytest.raises(BroadcastInputError, match="after the deadline"):
        planned(
            send_at=send_at,
            quiet_start=(send_at - timedelta(minutes=30)).time(),
            quiet_end=(send_at + timedelta(hours=2)).time(),
            deadline=send_at + timedelta(hours=1),
        )
    assert Broadcast.objects.get().status == Broadcast.Status.READY
