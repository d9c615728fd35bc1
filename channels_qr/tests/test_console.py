"""The channels console: groups, channels (WeCom first, through the sandbox), a channel's
page with its live state and stats, CSV export, welcome messages, and the customers list's
channel filter."""

import csv
import io
import re
from datetime import timedelta
from html import unescape

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import UserFactory
from channels_qr.models import Channel, ChannelGroup, LiveCode, WelcomeMessage
from channels_qr.services import ChannelData, GuideEntry, channel_create
from channels_qr.tests.helpers import CORP_ID, add_event, setup_corp, way_members
from contacts.models import Relation
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory
from tagging.models import Tag, TagGroup

CUSTOMER_LINK = re.compile(r'href="/customers/(\d+)/"')
CHANNEL_LINK = re.compile(r'href="/channels/(\d+)/"')


def login(client, role: str = "operator"):
    with schema_context("alpha"):
        user = UserFactory(role=role)
        client.force_login(user)
    return user


def in_english(client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def body_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


def make_channel(people, **fields) -> Channel:
    data = {"name": "南京路海报", "guides": [GuideEntry(people["amy"].pk)], **fields}
    return channel_create(data=ChannelData(**data), actor=None)


# --- channels list --------------------------------------------------------------------------


def test_the_list_shows_todays_adds_per_channel_and_the_contact_way_quota(guides, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    poster = make_channel(guides)
    parcel = make_channel(guides, name="包裹卡", guides=[GuideEntry(guides["bob"].pk)])
    for _index in range(3):
        RelationFactory(guide=guides["amy"], channel=poster, added_at=timezone.now())
    # yesterday's add is not today's (local midnight)
    RelationFactory(
        guide=guides["bob"],
        channel=parcel,
        added_at=timezone.localtime().replace(hour=0, minute=0) - timedelta(minutes=1),
    )

    body = body_of(client_a.get("/channels/"))

    assert re.search(rf'data-adds-today="{poster.pk}">3<', body)
    assert re.search(rf'data-adds-today="{parcel.pk}">0<', body)
    quota = re.sub(r"<[^>]+>", "", re.search(r'id="contact-way-quota">(.*?)</p>', body).group(1))
    assert (
        quota
        == "WeCom contact ways created by this platform: 2 of 500,000 per corp (499,998 left)."
    )
    assert "New channel" not in body  # viewers read only


@pytest.mark.parametrize("count", [2, 12])
def test_the_list_costs_the_same_queries_whatever_the_channels(
    db, client_a, django_assert_num_queries, count
):
    login(client_a, "viewer")
    with schema_context("alpha"):
        group = ChannelGroup.objects.create(name="华东")
        for index in range(count):
            channel = Channel.objects.create(name=f"渠道{index}", group=group)
            LiveCode.objects.create(channel=channel, state=f"st{index}", config_id=f"cfg{index}")
            RelationFactory(channel=channel)

    # routing (3), session and user (2) + channels with their adds today, their live codes,
    # guides and hours, the contact-way count, the groups for the filter
    with django_assert_num_queries(11):
        response = client_a.get("/channels/")

    assert len(set(CHANNEL_LINK.findall(body_of(response)))) == count


def test_the_list_filters_by_group_and_hides_deleted_channels(db, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        east = ChannelGroup.objects.create(name="华东")
        in_east = Channel.objects.create(name="华东海报", group=east)
        elsewhere = Channel.objects.create(name="华南海报")
        gone = Channel.objects.create(name="旧海报", group=east, deleted_at=timezone.now())

    def listed(query: str) -> set[int]:
        return {int(pk) for pk in CHANNEL_LINK.findall(body_of(client_a.get("/channels/" + query)))}

    assert listed("") == {in_east.pk, elsewhere.pk}
    assert listed(f"?group={east.pk}") == {in_east.pk}
    assert listed(f"?group={east.pk}&deleted=on") == {gone.pk}
    assert listed("?group=nonsense") == {in_east.pk, elsewhere.pk}  # ignored, never a 500


# --- create, edit, delete -------------------------------------------------------------------


def test_creating_a_channel_in_the_console_creates_its_live_code_in_wecom(guides, client_a):
    login(client_a)
    in_english(client_a)
    form = body_of(client_a.get("/channels/new/"))
    assert "{客户昵称}" in form  # the placeholders are explained
    group = ChannelGroup.objects.create(name="华东")
    tag_group = TagGroup.objects.create(group_id="etGRPCH01", name="来源")
    tag = Tag.objects.create(tag_id="etCHTAG001", group=tag_group, name="门店海报")

    response = client_a.post(
        "/channels/new/",
        {
            "name": "南京路海报",
            "group": group.pk,
            "is_active": "on",
            "strategy": "several",
            "guides": "amy, 2, 1\nbob",
            "backup_guide": "cat",
            "hours_1": "09:00-12:00, 14:00-21:00",
            "tags": [tag.tag_id],
            "welcome_text": "{客户昵称}，你好！我是{导购姓名}",
            "links": "会员中心 | https://example.com/vip",
            "skip_verify": "on",
        },
    )

    channel = Channel.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/channels/{channel.pk}/"
    code = LiveCode.objects.get(channel=channel)
    assert (channel.group_id, channel.tag_ids, channel.backup_guide_id) == (
        group.pk,
        [tag.tag_id],
        guides["cat"].pk,
    )
    assert [
        (g.guide.userid, g.daily_cap, g.weight) for g in channel.guides.order_by("guide__userid")
    ] == [
        ("amy", 2, 1),
        ("bob", None, 1),
    ]
    assert [(h.weekday, str(h.start), str(h.end)) for h in channel.hours.all()] == [
        (1, "09:00:00", "12:00:00"),
        (1, "14:00:00", "21:00:00"),
    ]
    assert channel.welcome_attachments == [
        {
            "msgtype": "link",
            "title": "会员中心",
            "url": "https://example.com/vip",
            "picurl": "",
            "desc": "",
        }
    ]
    # the way in WeCom lists whom the strategy gives now (hours decide between the guides
    # and the backup)
    assert way_members(code.config_id) == sorted(code.members)
    assert AuditLogEntry.objects.filter(action="channels.created").exists()

    page = body_of(client_a.get(response["Location"]))
    assert code.state in page
    assert f'src="{code.qr_code}"' in page
    assert "Channel “南京路海报” created" in page


def test_a_refused_channel_is_a_message_and_nothing_is_saved(guides, client_a, wecom_sandbox):
    login(client_a)
    in_english(client_a)
    # the service refuses: no guide for "several guides"
    response = client_a.post("/channels/new/", {"name": "空渠道", "strategy": "several"})
    assert response.status_code == 200
    assert "Nothing was changed: choose at least one guide" in messages_of(response)

    # WeCom refuses: a guide WeCom does not know
    GuideFactory(userid="ghost", store=None)
    response = client_a.post(
        "/channels/new/", {"name": "幽灵渠道", "strategy": "single", "guides": "ghost"}
    )
    assert response.status_code == 200
    [message] = messages_of(response)
    assert "WeCom refused the change (errcode 60111" in message

    # the form's own checks
    response = client_a.post(
        "/channels/new/",
        {"name": "x", "strategy": "several", "guides": "amy, lots", "hours_2": "9-5"},
    )
    body = body_of(response)
    assert "the daily cap and the weight are whole numbers" in body
    assert "Write hours as 09:00-21:00" in body
    assert not Channel.objects.exists()
    assert wecom_sandbox.control.corp(CORP_ID).get("counts", {}).get("contact_ways", 0) == 0


def test_editing_a_channel_pushes_its_new_member_list(guides, client_a):
    login(client_a)
    channel = make_channel(guides)
    code = LiveCode.objects.get(channel=channel)

    form = body_of(client_a.get(f"/channels/{channel.pk}/edit/"))
    assert "amy, -, 1" in form

    response = client_a.post(
        f"/channels/{channel.pk}/edit/",
        {
            "name": "南京路海报（新）",
            "strategy": "several",
            "guides": "amy\nbob",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    assert way_members(code.config_id) == ["amy", "bob"]
    channel.refresh_from_db()
    assert channel.name == "南京路海报（新）"
    assert channel.skip_verify is False  # the box was left unticked


def test_deleting_asks_first_and_the_printed_code_stops_working(guides, client_a, wecom_sandbox):
    login(client_a)
    in_english(client_a)
    channel = make_channel(guides)
    code = LiveCode.objects.get(channel=channel)

    confirm = body_of(client_a.get(f"/channels/{channel.pk}/delete/"))
    assert "every printed or shared copy of it stops working" in confirm
    assert Channel.objects.filter(deleted_at__isnull=True).count() == 1

    response = client_a.post(f"/channels/{channel.pk}/delete/")

    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.deleted_at is not None
    ways = wecom_sandbox.control.corp(CORP_ID)
    assert code.config_id not in str(ways.get("contact_ways", ""))
    assert LiveCode.objects.get(pk=code.pk).config_id == ""
    # its page still reads, without edit links
    page = body_of(client_a.get(f"/channels/{channel.pk}/"))
    assert "Deleted in WeCom: the code no longer works." in page
    assert f"/channels/{channel.pk}/edit/" not in page


def test_viewers_cannot_change_channels(guides, client_a):
    login(client_a, "viewer")
    channel = make_channel(guides)
    assert client_a.get("/channels/new/").status_code == 403
    assert client_a.post(f"/channels/{channel.pk}/delete/").status_code == 403
    assert client_a.post("/channels/groups/", {"name": "x"}).status_code == 403
    assert Channel.objects.get().deleted_at is None


# --- the channel's page ---------------------------------------------------------------------


def test_the_channel_page_shows_adds_against_caps_and_welcome_outcomes(
    guides, client_a, wecom_sandbox
):
    login(client_a, "viewer")
    in_english(client_a)
    control = wecom_sandbox.control
    channel = make_channel(
        guides,
        guides=[GuideEntry(guides["amy"].pk, daily_cap=1), GuideEntry(guides["bob"].pk)],
        welcome_text="你好",
    )
    code = LiveCode.objects.get(channel=channel)
    add_event(control, control.scan(CORP_ID, code.config_id, userid="amy"))
    # a burst: WeCom added a second customer to amy before her cap took her off the code
    RelationFactory(guide=guides["amy"], channel=channel, added_at=timezone.now())
    expired = control.scan(CORP_ID, code.config_id, userid="bob")
    add_event(control, expired, at=control.now() - 30)

    body = body_of(client_a.get(f"/channels/{channel.pk}/"))

    amy_row = re.search(r'<tr data-guide="amy">(.*?)</tr>', body, re.S).group(1)
    assert re.search(r'class="num over-cap">2 / 1 <small>\(\+1\)</small>', amy_row)
    assert '<span class="muted">No</span>' in amy_row  # capped: off the code
    assert re.search(r'<tr class="outcome-sent"><td>Sent</td><td class="num">1</td>', body)
    assert re.search(
        r'<tr class="outcome-expired"><td>Expired \(over 20 s\)</td><td class="num">1</td>', body
    )
    assert expired["external_userid"] in body  # listed among the welcomes not delivered
    assert 'id="channel-chart"' in body
    assert "/static/vendor/echarts.min.js" in body


def test_the_chart_data_and_the_csv_export(guides, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    channel = make_channel(guides)
    today = timezone.localdate()
    noon = timezone.localtime().replace(hour=12, minute=0)
    for days, count in ((2, 3), (1, 1)):
        for _index in range(count):
            RelationFactory(
                guide=guides["amy"], channel=channel, added_at=noon - timedelta(days=days)
            )
    RelationFactory(
        guide=guides["bob"],
        channel=channel,
        added_at=noon - timedelta(days=5),
        status=Relation.Status.DELETED_BY_CUSTOMER,
        deleted_at=noon - timedelta(days=1),
    )
    start = (today - timedelta(days=6)).isoformat()
    query = f"?from={start}&to={today.isoformat()}"

    data = client_a.get(f"/channels/{channel.pk}/stats.json{query}").json()

    assert data["days"][0] == start
    assert len(data["days"]) == 7
    series = {s["key"]: s for s in data["series"]}
    assert series["adds"]["data"] == [0, 1, 0, 0, 3, 1, 0]
    assert series["deletions"]["data"] == [0, 0, 0, 0, 0, 1, 0]
    assert series["net"]["data"] == [0, 1, 0, 0, 3, 0, 0]
    assert series["adds"]["name"] == "Adds"

    response = client_a.get(f"/channels/{channel.pk}/stats.csv{query}&by=guide")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:5] == ["Day", "Guide userid", "Guide name", "Adds", "Deleted by the customer"]
    assert [row[:6] for row in rows[1:]] == [
        [(today - timedelta(days=5)).isoformat(), "bob", "导购bob", "1", "0", "1"],
        [(today - timedelta(days=2)).isoformat(), "amy", "导购amy", "3", "0", "3"],
        [(today - timedelta(days=1)).isoformat(), "amy", "导购amy", "1", "0", "1"],
        [(today - timedelta(days=1)).isoformat(), "bob", "导购bob", "0", "1", "-1"],
    ]

    per_day = client_a.get(f"/channels/{channel.pk}/stats.csv{query}&by=day")
    day_rows = list(csv.reader(io.StringIO(per_day.content.decode().lstrip("\ufeff"))))
    assert len(day_rows) == 1 + 7


def test_a_bad_range_is_reported_and_the_last_30_days_shown(guides, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    channel = make_channel(guides)

    body = body_of(client_a.get(f"/channels/{channel.pk}/?from=2026-05-01&to=2026-01-01"))

    assert "The end date is before the start date." in body
    assert "Showing the last 30 days instead." in body
    data = client_a.get(f"/channels/{channel.pk}/stats.json?from=2020-01-01&to=2026-01-01").json()
    assert len(data["days"]) == 30
    assert data["errors"]


# --- groups ---------------------------------------------------------------------------------


def test_groups_are_created_renamed_and_deleted(db, client_a):
    login(client_a)
    in_english(client_a)

    response = client_a.post("/channels/groups/", {"name": "华东"}, follow=True)
    assert "Channel group “华东” created." in body_of(response)
    group = ChannelGroup.objects.get()
    channel = Channel.objects.create(name="海报", group=group)

    taken = client_a.post("/channels/groups/", {"name": "华东"})
    assert "Nothing was changed: a group named “华东” exists" in messages_of(taken)

    client_a.post(f"/channels/groups/{group.pk}/rename/", {"name": "华东区"})
    group.refresh_from_db()
    assert group.name == "华东区"

    confirm = body_of(client_a.get(f"/channels/groups/{group.pk}/delete/"))
    assert "Channels in this group: 1. They stay, without a group" in confirm
    client_a.post(f"/channels/groups/{group.pk}/delete/")
    assert not ChannelGroup.objects.exists()
    channel.refresh_from_db()
    assert channel.group_id is None


# --- welcome messages -----------------------------------------------------------------------


def test_welcome_messages_default_store_and_guide(guides, client_a):
    login(client_a)
    in_english(client_a)
    store = guides["amy"].store

    client_a.post("/channels/welcome/new/", {"scope": "default", "text": "欢迎！"})
    client_a.post(
        "/channels/welcome/new/", {"scope": "store", "store": store.pk, "text": "门店欢迎你"}
    )
    response = client_a.post(
        "/channels/welcome/new/",
        {
            "scope": "guide",
            "guide": "amy",
            "text": "我是{导购姓名}",
            "links": "活动 | https://example.com/a",
        },
    )
    assert response.status_code == 302

    assert {(m.scope, m.text) for m in WelcomeMessage.objects.all()} == {
        ("default", "欢迎！"),
        ("store", "门店欢迎你"),
        ("guide", "我是{导购姓名}"),
    }
    second = client_a.post("/channels/welcome/new/", {"scope": "default", "text": "又一个"})
    assert "Nothing was changed: there is a default welcome already: edit that one" in messages_of(
        second
    )
    empty = client_a.post("/channels/welcome/new/", {"scope": "default"})
    assert any("write a text or add an attachment" in m for m in messages_of(empty))

    page = body_of(client_a.get("/channels/welcome/"))
    assert page.index("欢迎！") < page.index("门店欢迎你") < page.index("我是{导购姓名}")

    guide_welcome = WelcomeMessage.objects.get(scope="guide")
    form = body_of(client_a.get(f"/channels/welcome/{guide_welcome.pk}/edit/"))
    assert "活动 | https://example.com/a" in form
    client_a.post(f"/channels/welcome/{guide_welcome.pk}/delete/")
    assert not WelcomeMessage.objects.filter(scope="guide").exists()


# --- the customers list's channel filter ----------------------------------------------------


def test_the_customers_list_filters_by_channel(db, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        poster = Channel.objects.create(name="海报")
        parcel = Channel.objects.create(name="包裹卡")
        from_poster = CustomerFactory()
        from_parcel = CustomerFactory()
        RelationFactory(customer=from_poster, channel=poster)
        RelationFactory(customer=from_parcel, channel=parcel)
        RelationFactory(customer=CustomerFactory())

    body = body_of(client_a.get(f"/customers/?channel={poster.pk}"))

    assert {int(pk) for pk in CUSTOMER_LINK.findall(body)} == {from_poster.pk}
    assert f'<option value="{poster.pk}" selected>海报</option>' in body


def test_the_detail_page_of_an_unknown_channel_is_404(db, client_a):
    login(client_a, "viewer")
    assert client_a.get("/channels/999999/").status_code == 404
    assert client_a.get("/channels/999999/stats.json").status_code == 404
