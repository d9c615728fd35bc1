"""A scan through the sandbox: welcome first, then attribution and the channel's tags."""

import pytest
from django_tenants.utils import schema_context

from channels_qr.models import Channel, LiveCode, WelcomeLog, WelcomeMessage
from channels_qr.services import ChannelData, ChannelInputError, GuideEntry, channel_create
from channels_qr.tests.helpers import CORP_ID, add_event, setup_corp, way_members
from channels_qr.welcome import welcome_render
from contacts.models import Customer, Relation
from tagging.services import tags_add


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


def poster(guides, **overrides) -> Channel:
    [vip] = tags_add(group_name="来源", names=["门店海报"], actor=None)
    fields = {
        "name": "南京路门店海报",
        "strategy": Channel.Strategy.SEVERAL,
        "guides": [GuideEntry(guides["amy"].pk)],
        "tag_ids": [vip.tag_id],
        "welcome_text": "{客户昵称}，你好！我是{导购姓名}，欢迎光临南京路店。",
        **overrides,
    }
    data = ChannelData(**fields)
    return channel_create(data=data, actor=None)


def test_a_scan_is_welcomed_attributed_and_tagged(guides, wecom_sandbox):
    control = wecom_sandbox.control
    channel = poster(guides)
    code = LiveCode.objects.get(channel=channel)
    assert way_members(code.config_id) == ["amy"]
    assert len(code.state) <= 30

    scanned = control.scan(CORP_ID, code.config_id, name="小红")
    add_event(control, scanned)

    # the welcome went out with the guide's name; the nickname was not known yet (a new
    # customer), so it was left out with its comma
    [welcome] = control.received(CORP_ID, scanned["external_userid"])["welcome"]
    assert welcome["text"] == "你好！我是导购amy，欢迎光临南京路店。"
    log = WelcomeLog.objects.get()
    assert (log.outcome, log.channel_id) == ("sent", channel.pk)

    relation = Relation.objects.get(customer__external_userid=scanned["external_userid"])
    assert relation.channel_id == channel.pk
    assert relation.wecom_tag_ids == channel.tag_ids
    [follow] = control.customer(CORP_ID, scanned["external_userid"])["follows"]
    assert [t["tag_id"] for t in follow["tags"]] == channel.tag_ids


def test_a_returning_customer_is_greeted_by_name(guides, wecom_sandbox):
    control = wecom_sandbox.control
    channel = poster(guides)
    code = LiveCode.objects.get(channel=channel)
    Customer.objects.create(external_userid="wmBACK000001", name="老王")

    scanned = control.scan(CORP_ID, code.config_id, external_userid="wmBACK000001", name="老王")
    add_event(control, scanned)

    [welcome] = control.received(CORP_ID, "wmBACK000001")["welcome"]
    assert welcome["text"].startswith("老王，你好！我是导购amy")


def test_a_second_use_of_the_code_is_refused_and_not_retried(guides, wecom_sandbox):
    control = wecom_sandbox.control
    channel = poster(guides)
    code = LiveCode.objects.get(channel=channel)
    scanned = control.scan(CORP_ID, code.config_id)
    add_event(control, scanned)

    # the same add delivered again as a new event (another CreateTime) carries the used code
    add_event(control, scanned, at=control.now() + 1)

    assert len(control.received(CORP_ID, scanned["external_userid"])["welcome"]) == 1
    first, second = WelcomeLog.objects.order_by("event_id")
    assert first.outcome == "sent"
    assert (second.outcome, second.errcode) == ("failed", 84071)


def test_an_event_older_than_20_seconds_is_expired_and_nothing_is_sent(guides, wecom_sandbox):
    control = wecom_sandbox.control
    channel = poster(guides)
    code = LiveCode.objects.get(channel=channel)
    scanned = control.scan(CORP_ID, code.config_id)

    add_event(control, scanned, at=control.now() - 21)

    assert control.received(CORP_ID, scanned["external_userid"])["welcome"] == []
    assert WelcomeLog.objects.get().outcome == "expired"
    # attribution still happened: only the welcome is time-bound
    assert Relation.objects.get().channel_id == channel.pk


def test_no_code_no_channel_and_an_unknown_state(guides, wecom_sandbox):
    control = wecom_sandbox.control
    channel = poster(guides)
    code = LiveCode.objects.get(channel=channel)
    WelcomeMessage.objects.create(scope="default", text="欢迎！")

    # the guide has a welcome set in WeCom: no WelcomeCode
    no_code = control.scan(CORP_ID, code.config_id, welcome_code=False)
    add_event(control, no_code)
    # a state no live code of ours has (another tool's code): default welcome, flagged
    control.add_customer(
        CORP_ID,
        external_userid="wmOTHER00001",
        follows=[{"userid": "bob", "state": "someone-elses"}],
    )
    add_event(
        control,
        {
            "userid": "bob",
            "external_userid": "wmOTHER00001",
            "state": "someone-elses",
            "welcome_code": "",
        },
    )

    outcomes = dict(WelcomeLog.objects.values_list("external_userid", "outcome"))
    assert outcomes == {no_code["external_userid"]: "no_code", "wmOTHER00001": "no_code"}
    other = Relation.objects.get(customer__external_userid="wmOTHER00001")
    assert (other.channel_id, other.state, other.state_unknown) == (None, "someone-elses", True)


def test_the_default_and_store_welcomes_for_adds_without_a_channel(guides, wecom_sandbox):
    control = wecom_sandbox.control
    # a channel with no welcome of its own falls back like an add without a channel
    channel = poster(guides, welcome_text="")
    code = LiveCode.objects.get(channel=channel)
    WelcomeMessage.objects.create(scope="default", text="欢迎！")
    WelcomeMessage.objects.create(scope="store", store=guides["amy"].store, text="南京路店欢迎你")

    scanned = control.scan(CORP_ID, code.config_id)
    add_event(control, scanned)

    [welcome] = control.received(CORP_ID, scanned["external_userid"])["welcome"]
    assert welcome["text"] == "南京路店欢迎你"


def test_bad_channels_are_refused_before_wecom(guides, wecom_sandbox):
    cases = [
        (ChannelData(name="", guides=[GuideEntry(guides["amy"].pk)]), "name"),
        (ChannelData(name="x"), "at least one guide"),
        (
            ChannelData(
                name="x",
                strategy="single",
                guides=[GuideEntry(guides["amy"].pk), GuideEntry(guides["bob"].pk)],
            ),
            "exactly one guide",
        ),
        (ChannelData(name="x", guides=[GuideEntry(999999)]), "unknown guides"),
        (ChannelData(name="x", guides=[GuideEntry(guides["amy"].pk, daily_cap=0)]), "cap"),
        (ChannelData(name="x", strategy="store"), "store"),
        (
            ChannelData(name="x", guides=[GuideEntry(guides["amy"].pk)], tag_ids=["et_gone"]),
            "unknown tags",
        ),
        (
            ChannelData(
                name="x",
                guides=[GuideEntry(guides["amy"].pk)],
                welcome_attachments=[{"msgtype": "link"}] * 10,
            ),
            "at most 9",
        ),
    ]
    for data, message in cases:
        with pytest.raises(ChannelInputError, match=message):
            channel_create(data=data, actor=None)
    assert not Channel.objects.exists()
    assert wecom_sandbox.control.corp(CORP_ID).get("counts", {}).get("contact_ways", 0) == 0


@pytest.mark.parametrize(
    ("text", "nickname", "guide", "expected"),
    [
        ("{客户昵称}，你好", "", "", "你好"),
        ("Hi {nickname}, I am {guide_name}.", "Ann", "Bo", "Hi Ann, I am Bo."),
        ("Hi {nickname}, I am {guide_name}.", "", "Bo", "Hi I am Bo."),
        ("我是{导购姓名}", "", "", "我是"),
    ],
)
def test_placeholders(text, nickname, guide, expected):
    assert welcome_render(text, nickname=nickname, guide_name=guide) == expected


def test_the_high_queue_sends_the_welcome_and_leaves_the_rest_for_later(guides, wecom_sandbox):
    from scrm.wecom.events.services import DEFERRED, callback_event_process, callback_event_store

    control = wecom_sandbox.control
    channel = poster(guides)
    code = LiveCode.objects.get(channel=channel)
    scanned = control.scan(CORP_ID, code.config_id)
    stored = callback_event_store(
        app_kind="customer_contact",
        fields={
            "ToUserName": CORP_ID,
            "MsgType": "event",
            "Event": "change_external_contact",
            "ChangeType": "add_external_contact",
            "CreateTime": str(control.now()),
            "UserID": scanned["userid"],
            "ExternalUserID": scanned["external_userid"],
            "State": scanned["state"],
            "WelcomeCode": scanned["welcome_code"],
        },
        raw_xml="<xml/>",
        tenant_schema="alpha",
    )
    assert stored is not None

    # the high-priority task: the welcome only
    assert callback_event_process(event_id=stored.pk, urgent_only=True) == DEFERRED
    assert len(control.received(CORP_ID, scanned["external_userid"])["welcome"]) == 1
    assert not Relation.objects.exists()
    stored.refresh_from_db()
    assert (stored.status, stored.handlers_done) == ("received", ["channels.welcome"])

    # the default queue: the contact book and attribution, the welcome not again
    assert callback_event_process(event_id=stored.pk) == "done"
    assert Relation.objects.get().channel_id == channel.pk
    assert len(control.received(CORP_ID, scanned["external_userid"])["welcome"]) == 1
    assert WelcomeLog.objects.count() == 1
