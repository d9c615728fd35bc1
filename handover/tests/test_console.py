"""The handover console: the departed guides' queue and proposals, the handovers list, the
wizard (a preview that writes nothing, then a confirmation that starts and sends through the
sandbox), a handover's page with progress, CSV export, cancel and re-allocation, the
settings, roles and tenants, and the transfers on the customer and guide pages."""

import csv
import io
import re
from html import unescape

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import UserFactory
from contacts.models import Customer, Guide, Relation
from contacts.tests.factories import GroupChatFactory, RelationFactory
from handover.models import Handover, HandoverSettings, TransferItem
from handover.services import handover_propose, handover_settings, handover_start
from handover.tests.helpers import CORP_ID, setup_corp
from handover.transfer import handover_poll, handover_send

S = TransferItem.Status
HANDOVER_LINK = re.compile(r'href="/handover/(\d+)/"')


def login(client, role: str = "operator", schema: str = "alpha"):
    with schema_context(schema):
        user = UserFactory(role=role)
        client.force_login(user)
    return user


def in_english(client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def body_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.content.decode())


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _table(body: str, css: str) -> str:
    match = re.search(rf'<table class="list {css}">(.*?)</table>', body, re.S)
    assert match, css
    return match.group(1)


def row(body: str, attribute: str, value: object) -> str:
    match = re.search(rf'<tr {attribute}="{value}">(.*?)</tr>', body, re.S)
    assert match, f"no row {attribute}={value}"
    return text_of(match.group(1))


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


def amy_departs(control) -> Guide:
    control.member_leaves(CORP_ID, "amy")
    Guide.objects.filter(userid="amy").update(status=Guide.Status.DEPARTED)
    return Guide.objects.get(userid="amy")


def make_guide(userid: str, *, departed: bool = False, name: str = "") -> Guide:
    status = Guide.Status.DEPARTED if departed else Guide.Status.ACTIVE
    return Guide.objects.create(userid=userid, name=name or userid, status=status)


def make_customer(external_userid: str) -> Customer:
    return Customer.objects.create(external_userid=external_userid, name=external_userid)


def wizard(**fields) -> dict[str, object]:
    return {"mode": "even_store", "include_chats": "on", "message": "", **fields}


# --- queue and list ---------------------------------------------------------------------------


def test_the_queue_shows_departed_guides_at_risk_and_proposals_with_their_start(db, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    with schema_context("alpha"):
        gone = make_guide("zoe", name="Zoe", departed=True)
        for _n in range(3):
            RelationFactory(guide=gone)
        RelationFactory(guide=gone, status=Relation.Status.DELETED_BY_CUSTOMER)
        GroupChatFactory(owner=gone)
        GroupChatFactory(owner=gone)
        quiet = make_guide("quiet", departed=True)  # no customers: not at risk
        options = handover_settings()
        options.auto_start, options.grace_hours = True, 24
        options.save()
        proposal = handover_propose(guide=gone)
        assert proposal is not None

    body = body_of(client_a.get("/handover/"))

    queued = row(body, "data-guide", gone.pk)
    assert "Zoe" in queued
    assert re.search(rf'data-guide="{gone.pk}">.*?data-at-risk>3<.*?data-chats>2<', body, re.S)
    assert f'data-guide="{quiet.pk}"' not in body
    proposed = row(body, "data-proposal", proposal.pk)
    assert "Member deleted in WeCom" in proposed
    start = timezone.localtime(proposal.start_after).strftime("%Y-%m-%d %H:%M")
    assert start in proposed
    assert "Start handover" not in body  # viewers read only
    assert "New handover" not in body


@pytest.mark.parametrize("count", [2, 9])
def test_the_list_costs_the_same_queries_whatever_the_handovers(
    db, client_a, django_assert_num_queries, count
):
    login(client_a, "viewer")
    with schema_context("alpha"):
        for index in range(count):
            giver = make_guide(f"gone{index}", departed=True)
            RelationFactory(guide=giver)
            handover = Handover.objects.create(
                kind=Handover.Kind.RESIGNED,
                status=Handover.Status.WAITING,
                trigger=Handover.Trigger.OPERATOR,
                started_at=timezone.now(),
            )
            handover.from_guides.set([giver])
            TransferItem.objects.create(
                handover=handover,
                external_id=f"wm{index}",
                from_guide=giver,
                status=S.ACCEPTED,
            )
            Handover.objects.create(
                kind=Handover.Kind.RESIGNED,
                status=Handover.Status.PROPOSED,
                trigger=Handover.Trigger.CALLBACK,
            ).from_guides.set([giver])

    # routing (3), session and user (2) + departed queue, proposals with their guides (2),
    # a page of handovers with their guides (2), the counts per status
    with django_assert_num_queries(11):
        response = client_a.get("/handover/")

    body = body_of(response)
    assert len(re.findall(r'<tr data-handover="\d+">', body)) == count
    assert len(re.findall(r'<tr data-proposal="\d+">', body)) == count
    assert len(re.findall(r'<tr data-guide="\d+">', body)) == count


def test_the_navigation_leads_to_the_handovers(db, client_a):
    login(client_a, "viewer")
    assert 'href="/handover/"' in body_of(client_a.get("/"))


# --- the wizard -------------------------------------------------------------------------------


def test_the_preview_shows_the_plan_and_writes_nothing(guides, wecom_sandbox, client_a):
    login(client_a)
    in_english(client_a)
    amy = amy_departs(wecom_sandbox.control)

    response = client_a.post(
        "/handover/new/", wizard(from_guides="amy", max_per_guide="", action="preview")
    )

    body = body_of(response)
    assert "Resigned transfer (离职继承)" in body
    assert re.search(r'data-count="customers_to_send">6<', body)
    assert re.search(r'data-count="chats_to_send">1<', body)
    assert re.search(r'data-count="unallocated">0<', body)
    takers = {
        userid: int(received)
        for userid, received in re.findall(
            r'data-taker="(\w+)">.*?data-received>(\d+)<', body, re.S
        )
    }
    assert takers == {"bob": 2, "cat": 2, "dan": 2}  # evenly, only amy's own store
    assert "bob" in row(body, "data-taker", "bob")
    assert 'value="confirm"' in body
    assert "24 hours" in body
    assert "twice in 90 days" in body
    # nothing written, nothing sent
    assert not Handover.objects.exists()
    assert not TransferItem.objects.exists()
    assert not AuditLogEntry.objects.filter(action="handover.started").exists()
    assert wecom_sandbox.control.transfers(CORP_ID, "wmH0000") == []
    assert Relation.objects.filter(guide=amy, status="active").count() == 6


def test_the_preview_reports_unallocated_customers_over_the_maximum(
    guides, wecom_sandbox, client_a
):
    login(client_a)
    in_english(client_a)
    amy_departs(wecom_sandbox.control)

    body = body_of(
        client_a.post(
            "/handover/new/",
            wizard(
                from_guides="amy", mode="one", takers="bob", max_per_guide="5", action="preview"
            ),
        )
    )

    # bob holds 2 customers: room for 3 of amy's 6
    assert re.search(r'data-taker="bob">.*?data-received>3<', body, re.S)
    assert re.search(r'data-count="unallocated">3<', body)
    assert "no takeover guide has room" in body
    assert not Handover.objects.exists()


def test_confirming_starts_the_handover_and_its_items_reach_wecom(guides, wecom_sandbox, client_a):
    user = login(client_a)
    in_english(client_a)
    control = wecom_sandbox.control
    amy = amy_departs(control)

    response = client_a.post(
        "/handover/new/",
        wizard(from_guides="amy", mode="one", takers="cat", action="confirm"),
        follow=True,
    )

    handover = Handover.objects.get()
    assert response.redirect_chain[-1][0] == f"/handover/{handover.pk}/"
    assert messages_of(response) == [
        f"Handover #{handover.pk} started: its customers are being sent to WeCom."
    ]
    assert handover.kind == Handover.Kind.RESIGNED
    assert handover.trigger == Handover.Trigger.OPERATOR
    assert list(handover.from_guides.all()) == [amy]
    entry = AuditLogEntry.objects.get(action="handover.started")
    assert entry.actor_label == user.username
    assert entry.ip_address == "127.0.0.1"

    assert handover_send(handover_id=handover.pk) == Handover.Status.WAITING
    assert control.transfers(CORP_ID, "wmH0000")[0]["kind"] == "resigned"
    body = body_of(client_a.get(f"/handover/{handover.pk}/"))
    assert "Waiting for WeCom's results" in body
    assert re.search(r'data-count="waiting">6<', body)
    assert "7 / 7 items final" not in body
    assert "js/handover_progress.js" in body  # the page keeps itself current
    progress = client_a.get(f"/handover/{handover.pk}/progress.json").json()
    assert progress["status"] == "waiting"
    assert progress["running"] is True
    assert (progress["final"], progress["total"]) == (1, 7)  # the chat moved at once
    assert progress["counts"]["waiting"] == 6

    control.advance_clock(24 * 3600 + 60)
    assert handover_poll(handover_id=handover.pk) == Handover.Status.DONE
    body = body_of(client_a.get(f"/handover/{handover.pk}/"))
    assert "7 / 7 items final" in body
    assert "js/handover_progress.js" not in body


def test_a_proposal_is_started_from_the_wizard_with_its_guides(guides, wecom_sandbox, client_a):
    login(client_a)
    in_english(client_a)
    amy = amy_departs(wecom_sandbox.control)
    proposal = handover_propose(guide=amy)
    assert proposal is not None

    body = body_of(client_a.get(f"/handover/new/?proposal={proposal.pk}"))
    assert re.search(r'name="from_guides"[^>]*>\s*amy</textarea>', body)
    assert f'name="proposal" value="{proposal.pk}"' in body

    client_a.post(
        "/handover/new/",
        wizard(from_guides="amy", proposal=proposal.pk, action="confirm"),
    )

    proposal.refresh_from_db()
    assert proposal.status == Handover.Status.SENDING
    assert proposal.trigger == Handover.Trigger.CALLBACK
    assert Handover.objects.count() == 1


def test_departed_and_working_guides_together_are_refused_on_the_page(
    guides, wecom_sandbox, client_a
):
    login(client_a)
    in_english(client_a)
    amy_departs(wecom_sandbox.control)

    response = client_a.post(
        "/handover/new/",
        wizard(from_guides="amy, bob", mode="one", takers="cat", action="confirm"),
    )

    body = body_of(response)
    assert "hand over departed guides and working guides separately: WeCom has two kinds" in body
    assert not Handover.objects.exists()


def test_an_on_duty_message_over_200_characters_is_refused(guides, client_a):
    login(client_a)
    in_english(client_a)

    body = body_of(
        client_a.post(
            "/handover/new/",
            wizard(
                from_guides="bob", mode="one", takers="cat", message="好" * 201, action="confirm"
            ),
        )
    )

    assert "Ensure this value has at most 200 characters (it has 201)." in body
    assert not Handover.objects.exists()


def test_the_wizard_prefills_the_brands_on_duty_message(db, client_a):
    login(client_a)
    with schema_context("alpha"):
        options = handover_settings()
        options.onjob_message = "您好，后续由同事为您服务"
        options.save()

    body = body_of(client_a.get("/handover/new/"))

    assert re.search(r'name="message"[^>]*>\s*您好，后续由同事为您服务</textarea>', body)
    assert "200" in body


def test_a_csv_allocation_lists_its_problems_and_the_file_is_kept_for_the_confirmation(
    guides, wecom_sandbox, client_a
):
    login(client_a)
    in_english(client_a)
    amy_departs(wecom_sandbox.control)
    data = (
        "客户,导购\nwmH0000,bob\nwmH0003,bob\nwmH0001,cat\nwmNOBODY,bob\nwmH0002,nobody\n".encode()
    )

    preview = client_a.post(
        "/handover/new/",
        wizard(
            from_guides="amy",
            mode="csv",
            action="preview",
            csv_file=SimpleUploadedFile("map.csv", data, content_type="text/csv"),
        ),
    )

    body = body_of(preview)
    assert re.search(r'data-count="customers_to_send">3<', body)
    problems = text_of(re.search(r'id="preview-csv-problems">(.*?)</table>', body, re.S).group(1))
    assert "wmNOBODY,bob no customer with this external_userid" in problems
    assert "wmH0002,nobody no guide with this userid" in problems
    assert "not in the CSV file" in body
    token = re.search(r'name="csv_token" value="([^"]+)"', body).group(1)

    client_a.post(
        "/handover/new/",
        wizard(from_guides="amy", mode="csv", csv_token=token, action="confirm"),
    )

    handover = Handover.objects.get()
    sent = dict(
        handover.items.filter(status=S.PENDING).values_list("external_id", "to_guide__userid")
    )
    # the chat follows its owner's customers: to bob, who receives most of them
    assert sent == {"wmH0000": "bob", "wmH0003": "bob", "wmH0001": "cat", "wrCHATAMY001": "bob"}


# --- roles and tenants ------------------------------------------------------------------------


def test_a_viewer_cannot_start_cancel_or_reallocate(guides, client_a):
    login(client_a, "viewer")
    handover = handover_start(
        from_guides=[guides["bob"]], mode=Handover.Mode.ONE, takers=[guides["cat"]]
    )

    assert client_a.get("/handover/new/").status_code == 403
    started = client_a.post(
        "/handover/new/", wizard(from_guides="dan", mode="one", takers="cat", action="confirm")
    )
    assert started.status_code == 403
    assert client_a.post(f"/handover/{handover.pk}/cancel/").status_code == 403
    assert (
        client_a.post(f"/handover/{handover.pk}/reallocate/", {"takers": "dan"}).status_code == 403
    )
    assert client_a.post("/handover/settings/", {"grace_hours": "1"}).status_code == 403
    assert Handover.objects.count() == 1
    handover.refresh_from_db()
    assert handover.status == Handover.Status.SENDING
    body = body_of(client_a.get(f"/handover/{handover.pk}/"))
    assert "/cancel/" not in body
    assert "/items.csv" not in body


def test_another_brand_cannot_see_the_handover(guides, client_b):
    handover = handover_start(
        from_guides=[guides["bob"]], mode=Handover.Mode.ONE, takers=[guides["cat"]]
    )
    login(client_b, "admin", schema="beta")

    assert client_b.get(f"/handover/{handover.pk}/").status_code == 404
    assert client_b.get(f"/handover/{handover.pk}/progress.json").status_code == 404
    assert client_b.get(f"/handover/{handover.pk}/items.csv").status_code == 404
    assert client_b.post(f"/handover/{handover.pk}/cancel/").status_code == 404
    assert f"/handover/{handover.pk}/" not in body_of(client_b.get("/handover/"))


# --- a handover's page ------------------------------------------------------------------------


def test_the_items_export_has_every_item_with_its_guides_and_status(
    guides, wecom_sandbox, client_a
):
    login(client_a)
    in_english(client_a)
    handover = handover_start(
        from_guides=[guides["bob"]],
        mode=Handover.Mode.ONE,
        takers=[guides["cat"]],
        message="同事小猫为您服务",
    )
    handover_send(handover_id=handover.pk)

    response = client_a.get(f"/handover/{handover.pk}/items.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="handover-{handover.pk}-'
    )
    raw = b"".join(response.streaming_content).decode("utf-8")
    assert raw.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(raw[1:])))
    assert lines[0] == [
        "Type",
        "Customer or group chat",
        "External userid or chat id",
        "From guide userid",
        "From guide",
        "Takeover guide userid",
        "Takeover guide",
        "Status",
        "Reason",
        "WeCom errcode",
        "Sent at",
        "Takeover time",
        "Finished at",
    ]
    by_id = {line[2]: line for line in lines[1:]}
    assert set(by_id) == {"wmB0000", "wmB0001"}
    assert by_id["wmB0000"][:8] == [
        "Customer",
        "B客户0",
        "wmB0000",
        "bob",
        "导购bob",
        "cat",
        "导购cat",
        "Waiting for takeover",
    ]
    assert by_id["wmB0000"][10]  # sent at


def test_items_are_filtered_by_status_and_paginated(db, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    with schema_context("alpha"):
        giver = make_guide("gone", departed=True)
        taker = make_guide("taker")
        handover = Handover.objects.create(
            kind=Handover.Kind.RESIGNED,
            status=Handover.Status.WAITING,
            trigger=Handover.Trigger.OPERATOR,
        )
        handover.from_guides.set([giver])
        for index in range(60):
            customer = make_customer(f"wmP{index:04d}")
            TransferItem.objects.create(
                handover=handover,
                customer=customer,
                external_id=customer.external_userid,
                from_guide=giver,
                to_guide=taker,
                status=S.ACCEPTED if index % 3 else S.LOST,
            )

    first = body_of(client_a.get(f"/handover/{handover.pk}/"))
    assert len(re.findall(r'<tr data-item="', first)) == 50
    assert "1 / 2" in first
    lost = body_of(client_a.get(f"/handover/{handover.pk}/?status=lost"))
    shown = re.findall(r'<tr data-item="(\w+)">', lost)
    assert len(shown) == 20
    assert all(int(external_id[3:]) % 3 == 0 for external_id in shown)
    assert "Refused by the customer (lost)" in lost


def test_cancelling_asks_first_then_stops_what_was_not_sent(guides, client_a):
    login(client_a)
    in_english(client_a)
    handover = handover_start(
        from_guides=[guides["bob"]], mode=Handover.Mode.ONE, takers=[guides["cat"]]
    )

    confirm = body_of(client_a.get(f"/handover/{handover.pk}/cancel/"))
    assert "2 items not yet sent to WeCom will be cancelled." in confirm
    handover.refresh_from_db()
    assert handover.status == Handover.Status.SENDING

    response = client_a.post(f"/handover/{handover.pk}/cancel/", follow=True)

    assert messages_of(response) == [
        f"Handover #{handover.pk} cancelled: 2 items not yet sent were cancelled."
    ]
    handover.refresh_from_db()
    assert handover.status == Handover.Status.CANCELLED
    assert set(handover.items.values_list("status", flat=True)) == {S.CANCELLED}
    assert AuditLogEntry.objects.filter(action="handover.cancelled").count() == 1


def test_failed_items_are_reallocated_from_the_page(guides, wecom_sandbox, client_a):
    login(client_a)
    in_english(client_a)
    control = wecom_sandbox.control
    amy = amy_departs(control)
    handover = handover_start(
        from_guides=[amy], mode=Handover.Mode.ONE, takers=[guides["bob"]], include_chats=False
    )
    handover_send(handover_id=handover.pk)
    control.decide_transfer(CORP_ID, "wmH0001", "limit")
    handover_poll(handover_id=handover.pk)
    page = body_of(client_a.get(f"/handover/{handover.pk}/"))
    assert "1 item has no takeover guide" in page

    refused = client_a.post(f"/handover/{handover.pk}/reallocate/", {"takers": "amy"}, follow=True)
    assert messages_of(refused) == [
        "Nothing was re-allocated: 导购amy is handed over and cannot also take over"
    ]

    response = client_a.post(f"/handover/{handover.pk}/reallocate/", {"takers": "cat"}, follow=True)

    assert messages_of(response) == ["1 item re-allocated: it is being sent to WeCom again."]
    item = handover.items.get(external_id="wmH0001")
    assert (item.status, item.to_guide) == (S.PENDING, guides["cat"])
    handover_send(handover_id=handover.pk)
    assert control.transfers(CORP_ID, "wmH0001")[-1]["takeover_userid"] == "cat"


# --- settings and history ---------------------------------------------------------------------


def test_operators_change_the_settings_and_viewers_read_them(db, client_a):
    login(client_a, "operator")
    in_english(client_a)

    response = client_a.post(
        "/handover/settings/",
        {
            "auto_start": "on",
            "grace_hours": "48",
            "max_per_guide": "800",
            "onjob_message": "您好，我的同事会继续为您服务",
        },
        follow=True,
    )

    assert messages_of(response) == ["Handover settings saved."]
    with schema_context("alpha"):
        options = HandoverSettings.objects.get()
        assert (options.auto_start, options.grace_hours, options.max_per_guide) == (True, 48, 800)
        assert (
            AuditLogEntry.objects.get(action="handover.settings_changed").detail["grace_hours"]
            == 48
        )
    login(client_a, "viewer")
    body = body_of(client_a.get("/handover/settings/"))
    assert re.search(r'name="grace_hours" value="48"[^>]*disabled', body)
    assert ">Save<" not in body


def test_the_customer_and_guide_pages_list_their_transfers(guides, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    handover = handover_start(
        from_guides=[guides["bob"]], mode=Handover.Mode.ONE, takers=[guides["cat"]]
    )
    handover_send(handover_id=handover.pk)
    customer = handover.items.get(external_id="wmB0000").customer

    page = body_of(client_a.get(f"/customers/{customer.pk}/"))
    transfers = text_of(_table(page, "transfers"))
    assert "导购bob 导购cat Waiting for takeover" in transfers
    assert f"#{handover.pk}" in transfers

    giver = body_of(client_a.get(f"/guides/{guides['bob'].pk}/"))
    out = text_of(_table(giver, "handovers-out"))
    assert f"#{handover.pk} On-duty transfer (在职继承)" in out
    taker = body_of(client_a.get(f"/guides/{guides['cat'].pk}/"))
    into = text_of(_table(taker, "transfers-in"))
    assert "B客户0 导购bob Waiting for takeover" in into
