"""Assignment strategies against the sandbox: the way's member list follows caps, hours,
weights, stores and departures."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import schema_context

from channels_qr.models import Channel, LiveCode
from channels_qr.services import ChannelData, GuideEntry, channel_create
from channels_qr.strategies import live_codes_sync
from channels_qr.tests.helpers import CORP_ID, add_event, setup_corp, way_members
from contacts.models import Guide, Relation

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a, guides=("amy", "bob", "cat", "dan"))
    with schema_context("alpha"):
        yield guides


def create(**fields) -> LiveCode:
    channel = channel_create(data=ChannelData(name="渠道", **fields), actor=None)
    return LiveCode.objects.get(channel=channel)


def scan_to(control, code: LiveCode, userid: str) -> None:
    add_event(control, control.scan(CORP_ID, code.config_id, userid=userid))


def test_a_capped_guide_leaves_the_list_and_the_backup_takes_over(guides, wecom_sandbox):
    control = wecom_sandbox.control
    code = create(
        guides=[
            GuideEntry(guides["amy"].pk, daily_cap=2),
            GuideEntry(guides["bob"].pk, daily_cap=1),
        ],
        backup_guide_id=guides["dan"].pk,
    )
    assert way_members(code.config_id) == ["amy", "bob"]

    scan_to(control, code, "bob")  # bob reaches his cap of 1
    assert way_members(code.config_id) == ["amy"]
    scan_to(control, code, "amy")
    assert way_members(code.config_id) == ["amy"]
    scan_to(control, code, "amy")  # amy reaches 2: everyone capped, the backup alone
    assert way_members(code.config_id) == ["dan"]

    # a new day: the caps start again
    tomorrow = datetime.now(SHANGHAI) + timedelta(days=1)
    live_codes_sync(now=tomorrow)
    assert way_members(code.config_id) == ["amy", "bob"]


def test_working_hours_switch_to_the_off_hours_guide_at_the_sandbox_time(guides, wecom_sandbox):
    control = wecom_sandbox.control
    code = create(
        guides=[GuideEntry(guides["amy"].pk), GuideEntry(guides["bob"].pk)],
        backup_guide_id=guides["dan"].pk,
        hours=[(day, time(10), time(22)) for day in range(1, 8)],
    )
    # the sandbox's clock drives the schedule: 09:59 local, then 10:00, then 22:00
    start = datetime.fromtimestamp(control.now(), SHANGHAI).replace(
        hour=9, minute=59, second=0, microsecond=0
    )
    live_codes_sync(now=start)
    assert way_members(code.config_id) == ["dan"]
    live_codes_sync(now=start + timedelta(minutes=1))
    assert way_members(code.config_id) == ["amy", "bob"]
    live_codes_sync(now=start + timedelta(hours=12, minutes=1))
    assert way_members(code.config_id) == ["dan"]


def test_a_departed_guide_leaves_every_code_at_once(guides, wecom_sandbox):
    control = wecom_sandbox.control
    first = create(guides=[GuideEntry(guides["amy"].pk), GuideEntry(guides["bob"].pk)])
    second = create(guides=[GuideEntry(guides["bob"].pk), GuideEntry(guides["cat"].pk)])

    control.member_leaves(CORP_ID, "bob")
    from scrm.wecom.events.services import callback_event_process, callback_event_store

    stored = callback_event_store(
        app_kind="contacts_sync",
        fields={
            "ToUserName": CORP_ID,
            "MsgType": "event",
            "Event": "change_contact",
            "ChangeType": "delete_user",
            "CreateTime": str(control.now()),
            "UserID": "bob",
        },
        raw_xml="<xml/>",
        tenant_schema="alpha",
    )
    assert stored is not None
    assert callback_event_process(event_id=stored.pk) == "done"

    assert Guide.objects.get(userid="bob").status == Guide.Status.DEPARTED
    assert way_members(first.config_id) == ["amy"]
    assert way_members(second.config_id) == ["cat"]


def test_the_store_strategy_lists_the_stores_active_guides(guides, wecom_sandbox):
    code = create(strategy=Channel.Strategy.STORE, store_id=guides["amy"].store_id)
    assert way_members(code.config_id) == ["amy", "bob", "cat", "dan"]

    Guide.objects.filter(userid="cat").update(status=Guide.Status.DEPARTED)
    live_codes_sync()
    assert way_members(code.config_id) == ["amy", "bob", "dan"]


def test_weights_rotate_guides_in_and_out_approximately(guides, wecom_sandbox):
    control = wecom_sandbox.control
    code = create(
        strategy=Channel.Strategy.WEIGHTED,
        guides=[GuideEntry(guides["amy"].pk, weight=3), GuideEntry(guides["bob"].pk, weight=1)],
    )
    for _ in range(12):
        # WeCom picks among the listed guides; the test picks the first
        scan_to(control, code, way_members(code.config_id)[0])

    adds = {u: Relation.objects.filter(guide__userid=u).count() for u in ("amy", "bob")}
    # 3 : 1, within one add per guide
    assert abs(adds["amy"] - 9) <= 1
    assert abs(adds["bob"] - 3) <= 1


def test_an_unchanged_list_is_not_pushed_again(guides, wecom_sandbox):
    create(guides=[GuideEntry(guides["amy"].pk)])
    assert live_codes_sync() == 0
    assert live_codes_sync() == 0
