"""The group sends console: the wizard plans, the page shows the plan's counts before the
operator confirms (audit-logged), then the progress, each guide's message, every customer's
result and its CSV; remind, cancel, refresh; settings; roles and tenants."""

import csv
import io
import re
from html import unescape

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import UserFactory
from broadcast.dispatch import broadcast_dispatch
from broadcast.models import Broadcast, BroadcastSettings, Chunk, Delivery
from broadcast.planning import broadcast_plan
from broadcast.services import BroadcastData, broadcast_create, broadcast_sync
from broadcast.tests.helpers import CORP_ID, everyone, guides_confirm, planned, setup_corp
from contacts.models import Relation
from contacts.tests.factories import CustomerFactory, RelationFactory
from tagging.models import Tag, TagGroup

BROADCAST_LINK = re.compile(r'href="/broadcasts/(\d+)/"')
EVERYONE = [f"wmG{n:04d}" for n in range(17)]


def login(client, role: str = "operator", schema: str = "alpha"):
    with schema_context(schema):
        user = UserFactory(role=role)
        client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return user


def body_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.content.decode())


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


def wizard(**fields) -> dict:
    return {
        "name": "周末上新",
        "chat_type": "single",
        "text": "{guide_name} 为您准备了周末上新",
        "audience": "customers",
        "customer_ids": "\n".join(EVERYONE),
        "sender_rule": "recent",
        "when": "now",
        **fields,
    }


# --- the wizard and the plan ---------------------------------------------------------------


def test_the_wizard_plans_and_the_plan_is_shown_with_its_reasons_before_confirming(
    guides, client_a, django_capture_on_commit_callbacks
):
    # given a do-not-disturb tag on wmG0003, a customer sent to today (the rule: 1 a day)
    # and a customer no active guide holds
    operator = login(client_a)
    BroadcastSettings.objects.create(frequency_cap="day", do_not_disturb_tag_ids=["etDND"])
    Relation.objects.filter(customer__external_userid="wmG0003").update(wecom_tag_ids=["etDND"])
    earlier = Broadcast.objects.create(name="昨日", audience="customers", status="done")
    Delivery.objects.create(
        broadcast=earlier, target="wmG0005", status="sent", sent_at=timezone.now()
    )
    RelationFactory(
        customer=CustomerFactory(external_userid="wmGONE01"),
        guide=guides["amy"],
        status=Relation.Status.DELETED_BY_CUSTOMER,
    )

    # when the operator saves the wizard
    with django_capture_on_commit_callbacks() as queued:
        response = client_a.post(
            "/broadcasts/new/", wizard(customer_ids="\n".join([*EVERYONE, "wmGONE01"]))
        )
    broadcast = Broadcast.objects.get(name="周末上新")
    assert response.status_code == 302
    assert response["Location"] == f"/broadcasts/{broadcast.pk}/"
    assert len(queued) == 1  # the planning job
    assert broadcast.status == Broadcast.Status.PLANNING
    assert broadcast.created_by == operator.username
    planning = body_of(client_a.get(f"/broadcasts/{broadcast.pk}/"))
    assert "Planning…" in planning
    assert "Confirm" not in planning

    # then, once planned, the page shows who receives it and who is left out and why
    broadcast_plan(broadcast_id=broadcast.pk)
    page = body_of(client_a.get(f"/broadcasts/{broadcast.pk}/"))
    plan = {key: int(n) for key, n in re.findall(r'data-plan="(\w+)">(\d+)<', page)}
    assert plan == {"planned": 15, "no_relation": 1, "dnd": 1, "over_cap": 1}
    assert "Confirm: send to 15 customers" in page
    assert "Each guide decides when they actually send" in page
    assert "WeCom skips customers who already received" in page
    assert not AuditLogEntry.objects.filter(action="broadcast.confirmed").exists()

    # when they confirm: the templates are queued for creation, and the audit log says who
    with django_capture_on_commit_callbacks() as queued:
        confirmed = client_a.post(f"/broadcasts/{broadcast.pk}/confirm/", follow=True)
    assert "Confirmed: the messages are being created in WeCom." in messages_of(confirmed)
    assert len(queued) == 1
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.DISPATCHING
    entry = AuditLogEntry.objects.get(action="broadcast.confirmed")
    assert entry.actor_label == operator.username
    assert entry.detail["counts"]["planned"] == 15


def test_the_wizard_explains_the_placeholder_and_shows_the_phone_preview(guides, client_a):
    login(client_a)
    page = body_of(client_a.get("/broadcasts/new/"))
    assert "{guide_name} is replaced by the name of the guide who sends the message" in page
    assert "only the sender can be named" in page
    assert 'id="broadcast-preview"' in page
    assert re.search(r'data-sample-guide="导购(amy|bob|cat)"', page)  # a real guide's name
    assert "The schedule and the quiet hours decide when the messages are created" in page


def test_what_the_service_refuses_comes_back_on_the_wizard(guides, client_a):
    login(client_a)
    missing_segment = body_of(
        client_a.post("/broadcasts/new/", wizard(audience="segment", customer_ids=""))
    )
    assert "choose the segment" in missing_segment
    too_early = body_of(
        client_a.post(
            "/broadcasts/new/",
            wizard(when="later", send_at="2099-01-02T10:00", deadline="2099-01-01T10:00"),
        )
    )
    assert "the deadline must be after the send time" in too_early
    assert not Broadcast.objects.exists()


def test_a_csv_audience_and_the_segment_count(guides, client_a, django_capture_on_commit_callbacks):
    login(client_a)
    segment = everyone()
    count = client_a.get(f"/broadcasts/segment-count.json?segment={segment.pk}").json()
    assert count == {"count": 17}

    upload = io.BytesIO(b"external_userid\nwmG0001\nwmG0002\n13800000000\n")
    upload.name = "vip.csv"
    with django_capture_on_commit_callbacks():
        response = client_a.post(
            "/broadcasts/new/",
            wizard(audience="csv", customer_ids="", csv_file=upload),
            follow=True,
        )
    assert "Lines of the file that were not external_userids, skipped: 1." in messages_of(response)
    broadcast = Broadcast.objects.get()
    assert broadcast.audience_ids == ["wmG0001", "wmG0002"]
    assert broadcast.file_name == "vip.csv"


# --- progress, guides, results --------------------------------------------------------------


@override_settings(BROADCAST_CHUNK_SIZE=4)
def test_the_progress_json_follows_the_templates_then_the_results(guides, wecom_sandbox, client_a):
    login(client_a, "viewer")
    broadcast = planned()
    broadcast_dispatch(broadcast_id=broadcast.pk, max_chunks=1)

    progress = client_a.get(f"/broadcasts/{broadcast.pk}/progress.json").json()
    # amy 10 → 3 templates, bob 6 → 2, cat 1 → 1
    assert (progress["phase"], progress["done"], progress["total"]) == ("templates", 1, 6)
    assert progress["percent"] == 16.7
    assert progress["live"] is True

    broadcast_dispatch(broadcast_id=broadcast.pk)
    guides_confirm(wecom_sandbox.control, broadcast, only="amy")
    broadcast_sync(broadcast_id=broadcast.pk)
    progress = client_a.get(f"/broadcasts/{broadcast.pk}/progress.json").json()
    assert progress["status"] == "waiting"
    assert (progress["phase"], progress["done"], progress["total"]) == ("results", 10, 17)
    assert progress["text"] == "Customers with a final result: 10 / 17"


def test_the_page_shows_each_guides_message_and_every_customers_result(
    guides, wecom_sandbox, client_a
):
    login(client_a, "viewer")
    broadcast = planned()
    broadcast_dispatch(broadcast_id=broadcast.pk)
    guides_confirm(wecom_sandbox.control, broadcast, only="cat")
    broadcast_sync(broadcast_id=broadcast.pk)

    page = body_of(client_a.get(f"/broadcasts/{broadcast.pk}/"))
    rows = {
        text_of(row) for row in re.findall(r'<tr data-chunk="\d+">(.*?)</tr>', page, flags=re.S)
    }
    cat_sent = timezone.localtime(Chunk.objects.get(sender__userid="cat").sent_at)
    assert rows == {
        "导购amy amy 10 Created, waiting for the guide 0",
        "导购bob bob 6 Created, waiting for the guide 0",
        f"导购cat cat 1 Sent by the guide {cat_sent:%m-%d %H:%M} 0",
    }
    assert len(re.findall(r"<tr data-target=", page)) == 17
    assert "Remind guides" not in page  # a viewer reads only

    sent = body_of(client_a.get(f"/broadcasts/{broadcast.pk}/?status=sent"))
    assert re.findall(r'<tr data-target="(\w+)"', sent) == ["wmG0016"]


def test_the_results_csv(guides, wecom_sandbox, client_a):
    login(client_a, "viewer")
    broadcast = planned()
    broadcast_dispatch(broadcast_id=broadcast.pk)
    guides_confirm(wecom_sandbox.control, broadcast, only="bob")
    broadcast_sync(broadcast_id=broadcast.pk)

    response = client_a.get(f"/broadcasts/{broadcast.pk}/results.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    data = b"".join(response.streaming_content).decode("utf-8")
    assert data.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(data.lstrip("\ufeff"))))
    assert rows[0] == [
        "Customer or group chat",
        "Name",
        "Guide userid",
        "Guide",
        "Result",
        "Sent at",
        "WeCom errcode",
        "Reason",
    ]
    by_target = {row[0]: row for row in rows[1:]}
    assert set(by_target) == set(EVERYONE)
    assert by_target["wmG0015"][2:5] == ["bob", "导购bob", "Sent"]  # bob added them last
    assert by_target["wmG0015"][5]
    assert by_target["wmG0001"][2:6] == ["amy", "导购amy", "Waiting for the guide to send", ""]


def test_remind_cancel_and_refresh(
    guides, wecom_sandbox, client_a, monkeypatch, django_capture_on_commit_callbacks
):
    from broadcast.tasks import broadcast_sync_task

    login(client_a)
    broadcast = planned()
    broadcast_dispatch(broadcast_id=broadcast.pk)
    guides_confirm(wecom_sandbox.control, broadcast, only="amy")
    broadcast_sync(broadcast_id=broadcast.pk)

    reminded = client_a.post(f"/broadcasts/{broadcast.pk}/remind/", follow=True)
    assert "Guides reminded: 2." in messages_of(reminded)

    sent: list[dict] = []
    monkeypatch.setattr(broadcast_sync_task, "apply_async", lambda kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        refreshed = client_a.post(f"/broadcasts/{broadcast.pk}/refresh/", follow=True)
    assert "Reading the results from WeCom" in messages_of(refreshed)[0]
    assert sent == [{"broadcast_id": broadcast.pk, "tenant_schema": "alpha"}]

    confirmation = body_of(client_a.get(f"/broadcasts/{broadcast.pk}/cancel/"))
    assert "Messages with guides now, to be cancelled in WeCom: 2." in confirmation
    cancelled = client_a.post(f"/broadcasts/{broadcast.pk}/cancel/", follow=True)
    assert "Group send “周末上新” cancelled." in messages_of(cancelled)
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.CANCELLED
    for chunk in broadcast.chunks.exclude(sender__userid="amy"):
        assert wecom_sandbox.control.template(CORP_ID, chunk.msgid)["cancelled"] is True
    assert AuditLogEntry.objects.filter(action="broadcast.cancelled").exists()

    again = client_a.post(f"/broadcasts/{broadcast.pk}/cancel/", follow=True)
    assert "Nothing was changed: this group send is already over" in messages_of(again)


# --- list, settings, roles, tenants -----------------------------------------------------------


@pytest.mark.parametrize("count", [2, 8])
def test_the_list_shows_counts_and_costs_the_same_queries_whatever_the_rows(
    db, client_a, django_assert_num_queries, count
):
    login(client_a, "viewer")
    with schema_context("alpha"):
        for index in range(count):
            Broadcast.objects.create(
                name=f"群发{index}",
                audience="segment",
                segment=everyone(),
                status="waiting",
                counts={"sent": 5, "waiting": 3, "capped": 1, "dnd": 2},
            )

    # routing (3), session and user (2), the broadcasts with their segments
    with django_assert_num_queries(6):
        response = client_a.get("/broadcasts/")

    page = body_of(response)
    assert len(set(BROADCAST_LINK.findall(page))) == count
    row = re.search(r"<tr data-broadcast=.*?</tr>", page, flags=re.S).group(0)
    assert text_of(row).startswith("群发")
    assert re.findall(r'data-col="(\w+)">(\d+)<', row) == [
        ("planned", "9"),
        ("sent", "5"),
        ("not_sent", "1"),
        ("excluded", "2"),
    ]
    assert "Segment “全部客户”" in row


def test_settings(db, client_a):
    with schema_context("alpha"):
        group = TagGroup.objects.create(group_id="etgGRP", name="偏好")
        Tag.objects.create(tag_id="etDND", group=group, name="勿扰")
    login(client_a, "admin")

    saved = client_a.post(
        "/broadcasts/settings/", {"frequency_cap": "week", "do_not_disturb": ["etDND"]}, follow=True
    )

    assert "Group send settings saved." in messages_of(saved)
    with schema_context("alpha"):
        options = BroadcastSettings.objects.get()
        assert (options.frequency_cap, options.do_not_disturb_tag_ids) == ("week", ["etDND"])
        assert AuditLogEntry.objects.filter(action="broadcast.settings_changed").exists()
    viewer_client = client_a.__class__(HTTP_HOST="alpha.localhost")
    login(viewer_client, "viewer")
    page = body_of(viewer_client.get("/broadcasts/settings/"))
    assert "勿扰" in page
    assert "7 per week" in page
    assert viewer_client.post("/broadcasts/settings/", {"frequency_cap": "day"}).status_code == 403


def test_a_viewer_cannot_create_confirm_cancel_or_remind(db, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        broadcast = Broadcast.objects.create(
            name="待确认", audience="segment", segment=everyone(), status="ready"
        )
    assert client_a.get("/broadcasts/new/").status_code == 403
    for step in ("plan", "confirm", "cancel", "remind", "refresh"):
        assert client_a.post(f"/broadcasts/{broadcast.pk}/{step}/").status_code == 403
    with schema_context("alpha"):
        assert Broadcast.objects.get().status == Broadcast.Status.READY
    page = body_of(client_a.get("/broadcasts/"))
    assert "New group send" not in page


def test_another_brand_gets_404(db, client_a, client_b):
    with schema_context("alpha"):
        broadcast = broadcast_create(
            data=BroadcastData(
                name="A 的群发", audience="customers", text="hi", audience_ids=["wm1"]
            )
        )
    login(client_b, "admin", schema="beta")
    for path in ("", "progress.json", "results.csv", "cancel/"):
        assert client_b.get(f"/broadcasts/{broadcast.pk}/{path}").status_code == 404
    assert client_b.post(f"/broadcasts/{broadcast.pk}/confirm/").status_code == 404


def test_a_draft_from_the_api_is_planned_from_its_page(
    db, client_a, django_capture_on_commit_callbacks
):
    login(client_a)
    with schema_context("alpha"):
        draft = Broadcast.objects.create(name="API 草稿", audience="customers", text="hi")
    page = body_of(client_a.get(f"/broadcasts/{draft.pk}/"))
    assert "A draft (created through the API): not planned yet." in page
    with django_capture_on_commit_callbacks() as queued:
        response = client_a.post(f"/broadcasts/{draft.pk}/plan/")
    assert response.status_code == 302
    assert len(queued) == 1
    with schema_context("alpha"):
        assert Broadcast.objects.get().status == Broadcast.Status.PLANNING
