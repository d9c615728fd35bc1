"""The channels API as an integrator's HTTP client sees it: groups, channels created,
changed and deleted in WeCom (the sandbox), stats, welcome messages, and the customers
API's channel filter."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.services import api_key_create
from accounts.tests.factories import bearer
from channels_qr.models import Channel, ChannelGroup, LiveCode, WelcomeLog, WelcomeMessage
from channels_qr.tests.helpers import CORP_ID, setup_corp, way_members
from contacts.models import Relation
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory

JSON = "application/json"


def key(scope: str = APIKey.Scope.READ) -> dict[str, str]:
    with schema_context("alpha"):
        _, raw_key = api_key_create(name="ERP", scope=scope, created_by=None)
    return {**bearer(raw_key), "HTTP_COOKIE": "django_language=en"}


@pytest.fixture
def read_key(db) -> dict[str, str]:
    return key()


@pytest.fixture
def write_key(db) -> dict[str, str]:
    return key(APIKey.Scope.READ_WRITE)


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


def post(client, url, body, headers):
    return client.post(url, body, content_type=JSON, **headers)


def patch(client, url, body, headers):
    return client.patch(url, body, content_type=JSON, **headers)


# --- channels -------------------------------------------------------------------------------


def test_a_channel_is_created_changed_and_deleted_in_wecom(guides, client_a, write_key):
    group = ChannelGroup.objects.create(name="华东")

    created = post(
        client_a,
        "/api/v1/channels/",
        {
            "name": "包裹卡",
            "group": group.pk,
            "strategy": "several",
            "guides": [
                {"userid": "amy", "daily_cap": 50, "weight": 2},
                {"guide": guides["bob"].pk},
            ],
            "backup_guide": guides["cat"].pk,
            "hours": [{"weekday": day, "start": "00:00", "end": "23:59"} for day in range(1, 8)],
            "welcome_text": "你好，我是{导购姓名}",
            "welcome_attachments": [
                {"msgtype": "link", "title": "会员中心", "url": "https://example.com/vip"}
            ],
        },
        write_key,
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    code = LiveCode.objects.get(channel_id=body["id"])
    assert body["live_code"]["state"] == code.state
    assert body["live_code"]["qr_code"].startswith("http")
    assert body["group"] == group.pk
    assert [(g["userid"], g["daily_cap"], g["weight"]) for g in body["guides"]] == [
        ("amy", 50, 2),
        ("bob", None, 1),
    ]
    assert body["adds_today"] == 0
    assert body["welcome_attachments"][0]["title"] == "会员中心"
    assert sorted(body["live_code"]["members"]) == way_members(code.config_id)

    changed = patch(
        client_a,
        f"/api/v1/channels/{body['id']}/",
        {"guides": [{"userid": "bob"}], "hours": [], "name": "包裹卡 2026"},
        write_key,
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["name"] == "包裹卡 2026"
    assert changed.json()["welcome_text"] == "你好，我是{导购姓名}"  # kept: not sent
    assert way_members(code.config_id) == ["bob"]

    deleted = client_a.delete(f"/api/v1/channels/{body['id']}/", **write_key)
    assert deleted.status_code == 204
    after = client_a.get(f"/api/v1/channels/{body['id']}/", **write_key).json()
    assert after["deleted_at"] is not None
    assert after["live_code"]["config_id"] == ""
    assert AuditLogEntry.objects.filter(action__startswith="channels.").count() == 3


def test_refusals_are_400_before_wecom_and_502_from_wecom(
    guides, client_a, write_key, wecom_sandbox
):
    no_guide = post(client_a, "/api/v1/channels/", {"name": "空"}, write_key)
    assert no_guide.status_code == 400
    assert no_guide.json() == {"non_field_errors": ["choose at least one guide"]}

    unknown = post(
        client_a, "/api/v1/channels/", {"name": "x", "guides": [{"userid": "nobody"}]}, write_key
    )
    assert unknown.status_code == 400
    assert "nobody" in str(unknown.json()["guides"])

    bad_attachment = post(
        client_a,
        "/api/v1/channels/",
        {
            "name": "x",
            "guides": [{"userid": "amy"}],
            "welcome_attachments": [{"msgtype": "image", "media": 999999}],
        },
        write_key,
    )
    assert bad_attachment.status_code == 400
    assert "no such media in the library: 999999" in str(bad_attachment.json())

    GuideFactory(userid="ghost", store=None)  # not a member in WeCom
    refused = post(
        client_a, "/api/v1/channels/", {"name": "幽灵", "guides": [{"userid": "ghost"}]}, write_key
    )
    assert refused.status_code == 502
    assert refused.json()["errcode"] == 60111
    assert refused.json()["retryable"] is False
    assert not Channel.objects.exists()
    assert wecom_sandbox.control.corp(CORP_ID).get("counts", {}).get("contact_ways", 0) == 0


def test_read_keys_read_and_cannot_write(guides, client_a, read_key):
    assert client_a.get("/api/v1/channels/", **read_key).status_code == 200
    refused = post(client_a, "/api/v1/channels/", {"name": "x"}, read_key)
    assert refused.status_code == 403
    assert post(client_a, "/api/v1/channel-groups/", {"name": "x"}, read_key).status_code == 403


@pytest.mark.parametrize("count", [2, 12])
def test_the_list_has_todays_adds_in_a_fixed_number_of_queries(
    db, client_a, read_key, django_assert_num_queries, count
):
    with schema_context("alpha"):
        guide = GuideFactory()
        for index in range(count):
            channel = Channel.objects.create(name=f"渠道{index}")
            LiveCode.objects.create(channel=channel, state=f"st{index}", config_id=f"c{index}")
            channel.guides.create(guide_id=guide.pk, daily_cap=10)
            for _ in range(index % 3):
                RelationFactory(channel=channel, added_at=timezone.now())
        RelationFactory(channel=channel, added_at=timezone.now() - timedelta(days=2))

    # routing (3), the key (1) + the channels with their adds today, their live codes,
    # guides and hours
    with django_assert_num_queries(8):
        response = client_a.get("/api/v1/channels/", **read_key)

    results = response.json()["results"]
    assert len(results) == count
    assert {r["name"]: r["adds_today"] for r in results} == {
        f"渠道{index}": index % 3 for index in range(count)
    }


def test_the_list_filters_by_group_and_deleted(db, client_a, read_key):
    with schema_context("alpha"):
        east = ChannelGroup.objects.create(name="华东")
        in_east = Channel.objects.create(name="a", group=east)
        Channel.objects.create(name="b")
        gone = Channel.objects.create(name="c", deleted_at=timezone.now())

    def ids(query: str) -> set[int]:
        return {
            r["id"] for r in client_a.get("/api/v1/channels/" + query, **read_key).json()["results"]
        }

    assert ids(f"?group={east.pk}") == {in_east.pk}
    assert ids("?deleted=true") == {gone.pk}
    assert client_a.get("/api/v1/channels/?group=x", **read_key).status_code == 400
    assert client_a.get("/api/v1/channels/999999/", **read_key).status_code == 404


# --- stats ----------------------------------------------------------------------------------


def test_stats_per_day_and_per_guide(db, client_a, read_key):
    with schema_context("alpha"):
        channel = Channel.objects.create(name="海报")
        LiveCode.objects.create(channel=channel, state="chstats")
        amy, bob = GuideFactory(userid="amy"), GuideFactory(userid="bob")
        today = timezone.localdate()
        noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
        RelationFactory(guide=amy, channel=channel, added_at=noon - timedelta(days=9))
        RelationFactory(
            guide=bob,
            channel=channel,
            added_at=noon - timedelta(days=9),
            status=Relation.Status.DELETED_BY_CUSTOMER,
            deleted_at=noon - timedelta(days=1),
        )
        RelationFactory(guide=amy, channel=channel, added_at=noon - timedelta(days=1))
        for event_id, outcome in enumerate(("sent", "failed", "nothing"), start=1):
            WelcomeLog.objects.create(
                event_id=event_id,
                channel=channel,
                userid="amy",
                external_userid="wmX",
                outcome=outcome,
                event_at=noon - timedelta(days=1),
            )
    start = (today - timedelta(days=9)).isoformat()

    by_day = client_a.get(
        f"/api/v1/channels/{channel.pk}/stats/?from={start}&to={today.isoformat()}", **read_key
    )

    assert by_day.status_code == 200, by_day.json()
    data = by_day.json()
    assert (data["from"], data["to"], data["by"]) == (start, today.isoformat(), "day")
    assert len(data["results"]) == 10
    first, yesterday = data["results"][0], data["results"][-2]
    assert first == {
        "day": start,
        "adds": 2,
        "deletions": 0,
        "net": 2,
        "retained_7d": 1,
        "welcome_sent": 0,
        "welcome_due": 0,
        "welcome_rate": None,
    }
    assert (yesterday["adds"], yesterday["deletions"], yesterday["net"]) == (1, 1, 0)
    assert yesterday["retained_7d"] is None
    assert yesterday["welcome_rate"] == 0.5
    assert data["total"]["adds"] == 3
    assert (data["total"]["retained_7d"], data["total"]["retention_base"]) == (1, 2)

    per_guide = client_a.get(
        f"/api/v1/channels/{channel.pk}/stats/?from={start}&by=guide", **read_key
    ).json()
    assert [(r["day"], r["guide_userid"], r["adds"]) for r in per_guide["results"]] == [
        (start, "amy", 1),
        (start, "bob", 1),
        ((today - timedelta(days=1)).isoformat(), "amy", 1),
        ((today - timedelta(days=1)).isoformat(), "bob", 0),
    ]
    assert per_guide["results"][0]["guide"] == amy.pk


def test_stats_refuse_bad_ranges(db, client_a, read_key):
    with schema_context("alpha"):
        channel = Channel.objects.create(name="海报")
    url = f"/api/v1/channels/{channel.pk}/stats/"
    assert client_a.get(url + "?from=2026-02-01&to=2026-01-01", **read_key).json() == {
        "to": ["to is before from."]
    }
    too_long = client_a.get(url + "?from=2024-01-01&to=2026-01-01", **read_key)
    assert too_long.status_code == 400
    assert "366" in too_long.json()["from"][0]
    assert client_a.get(url + "?by=month", **read_key).status_code == 400
    assert client_a.get("/api/v1/channels/999999/stats/", **read_key).status_code == 404


# --- groups and welcome messages --------------------------------------------------------------


def test_channel_groups(db, client_a, write_key):
    created = post(client_a, "/api/v1/channel-groups/", {"name": "华东", "order": 2}, write_key)
    assert created.status_code == 201
    group_id = created.json()["id"]
    taken = post(client_a, "/api/v1/channel-groups/", {"name": "华东"}, write_key)
    assert taken.status_code == 400
    assert taken.json() == {"name": ["a group named “华东” exists"]}

    renamed = patch(client_a, f"/api/v1/channel-groups/{group_id}/", {"name": "华东区"}, write_key)
    assert renamed.json()["name"] == "华东区"
    with schema_context("alpha"):
        Channel.objects.create(name="海报", group_id=group_id)
    listed = client_a.get("/api/v1/channel-groups/", **write_key).json()["results"]
    assert [(g["name"], g["channel_count"]) for g in listed] == [("华东区", 1)]

    assert client_a.delete(f"/api/v1/channel-groups/{group_id}/", **write_key).status_code == 204
    with schema_context("alpha"):
        assert Channel.objects.get().group_id is None


def test_welcome_messages(db, client_a, write_key):
    with schema_context("alpha"):
        amy = GuideFactory(userid="amy")
    default = post(
        client_a, "/api/v1/welcome-messages/", {"scope": "default", "text": "欢迎"}, write_key
    )
    assert default.status_code == 201
    mine = post(
        client_a,
        "/api/v1/welcome-messages/",
        {
            "scope": "guide",
            "guide": amy.pk,
            "text": "我是{导购姓名}",
            "attachments": [{"msgtype": "link", "title": "店铺", "url": "https://example.com"}],
        },
        write_key,
    )
    assert mine.status_code == 201, mine.json()
    assert mine.json()["guide_userid"] == "amy"

    again = post(
        client_a, "/api/v1/welcome-messages/", {"scope": "default", "text": "x"}, write_key
    )
    assert again.status_code == 400
    assert again.json() == {
        "non_field_errors": ["there is a default welcome already: edit that one"]
    }
    no_store = post(
        client_a, "/api/v1/welcome-messages/", {"scope": "store", "text": "x"}, write_key
    )
    assert no_store.json() == {"non_field_errors": ["choose the store this welcome is for"]}
    ten = post(
        client_a,
        "/api/v1/welcome-messages/",
        {
            "scope": "store",
            "attachments": [{"msgtype": "link", "title": "t", "url": "https://e.com"}] * 10,
        },
        write_key,
    )
    assert ten.json() == {"attachments": ["at most 9 welcome attachments"]}

    changed = patch(
        client_a,
        f"/api/v1/welcome-messages/{default.json()['id']}/",
        {"text": "欢迎光临"},
        write_key,
    )
    assert changed.json()["text"] == "欢迎光临"
    assert (
        client_a.delete(f"/api/v1/welcome-messages/{mine.json()['id']}/", **write_key).status_code
        == 204
    )
    with schema_context("alpha"):
        assert list(WelcomeMessage.objects.values_list("text", flat=True)) == ["欢迎光临"]


# --- customers API channel filter -----------------------------------------------------------


def test_the_customers_api_filters_by_channel(db, client_a, read_key):
    with schema_context("alpha"):
        poster = Channel.objects.create(name="海报")
        from_poster = CustomerFactory()
        RelationFactory(customer=from_poster, channel=poster)
        RelationFactory(customer=CustomerFactory())

    response = client_a.get(f"/api/v1/customers/?channel={poster.pk}", **read_key)

    assert [c["id"] for c in response.json()["results"]] == [from_poster.pk]
    relations = client_a.get(f"/api/v1/relations/?channel={poster.pk}", **read_key).json()
    assert len(relations["results"]) == 1
    assert client_a.get("/api/v1/customers/?channel=abc", **read_key).status_code == 400
