"""The sidebar's JSON endpoints for a signed-in guide: the first load, tags pushed to WeCom
(the sandbox), notes, follow-ups, the timeline, quick replies; and who may call them."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from contacts.models import Customer, CustomerEvent, Guide
from contacts.services import customer_event_record
from contacts.tests.factories import StoreFactory
from scrm.wecom.media import media_asset_create
from sidebar.models import FollowUp, Note, QuickReply, QuickReplyFolder, SidebarSettings
from sidebar.services import follow_up_create, note_create
from sidebar.tests.helpers import (
    AMY_CUSTOMER,
    BOB_CUSTOMER,
    header,
    in_english,
    setup_brand,
    sign_in,
    wecom_tags,
)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def brand(db, wecom_sandbox, tenant_a):
    return setup_brand(wecom_sandbox, tenant_a)


@pytest.fixture
def amy(brand, client_a, wecom_sandbox) -> dict[str, str]:
    """amy's token header, and the client speaking English."""
    in_english(client_a)
    return header(sign_in(client_a, wecom_sandbox, "amy"))


def url(external_userid: str, part: str = "") -> str:
    return f"/sidebar/api/customers/{external_userid}/{part}"


def post(client, path: str, body: dict, auth: dict[str, str]):
    return client.post(path, body, content_type="application/json", **auth)


# --- the first load -----------------------------------------------------------------------


def test_the_first_load_has_the_card_tags_notes_follow_ups_and_timeline(brand, client_a, amy):
    with schema_context("alpha"):
        customer = Customer.objects.get(external_userid=AMY_CUSTOMER)
        bob = Guide.objects.get(userid="bob")
        note_create(customer=customer, text="喜欢红色", author="导购bob (bob)", guide=bob)
        follow_up_create(
            customer=customer,
            title="新品到店提醒",
            due=timezone.now() + timedelta(days=2),
            author="导购bob (bob)",
            guide=bob,
        )

    answer = client_a.get(url(AMY_CUSTOMER), **amy)

    assert answer.status_code == 200
    data = answer.json()
    card = data["card"]
    assert (card["name"], card["remark"], card["phones"]) == ("王小姐", "VIP 王", ["13800000001"])
    assert card["added_at"]
    assert [(g["name"], g["mine"]) for g in card["guides"]] == [
        ("导购amy", True),
        ("导购bob", False),
    ]
    assert data["tags"]["editable"] is True
    assert data["tags"]["marked"] == []
    [group] = data["tags"]["groups"]
    assert group["name"] == "会员"
    assert sorted(t["name"] for t in group["tags"]) == ["VIP", "金卡"]
    assert [n["text"] for n in data["notes"]] == ["喜欢红色"]
    assert data["notes"][0]["mine"] is False
    [follow_up] = data["follow_ups"]
    assert (follow_up["title"], follow_up["done_at"], follow_up["overdue"]) == (
        "新品到店提醒",
        None,
        False,
    )
    kinds = [e["kind"] for e in data["timeline"]["events"]]
    assert kinds[:2] == ["note", "note"]  # the follow-up, then the note, newest first
    assert "added" in kinds


def test_the_first_load_costs_the_same_queries_whatever_the_history(
    brand, client_a, amy, django_assert_num_queries
):
    # the host's tenant (3: search_path, domain, search_path), then the guide of the token,
    # the customer, the scope setting, visible relations, all relations, the tag catalogue,
    # notes, follow-ups and the timeline's first page
    expected = 12
    with django_assert_num_queries(expected):
        assert client_a.get(url(AMY_CUSTOMER), **amy).status_code == 200

    with schema_context("alpha"):
        customer = Customer.objects.get(external_userid=AMY_CUSTOMER)
        for i in range(25):
            note_create(customer=customer, text=f"note {i}", author="x")
            follow_up_create(customer=customer, title=f"task {i}", due=timezone.now(), author="x")
    with django_assert_num_queries(expected):
        answer = client_a.get(url(AMY_CUSTOMER), **amy)
    data = answer.json()
    assert len(data["notes"]) == 20
    assert len(data["follow_ups"]) == 25
    assert len(data["timeline"]["events"]) == 10
    assert data["timeline"]["next"]


def test_the_page_itself_holds_no_data_and_is_light(brand, client_a):
    page = client_a.get("/sidebar/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "王小姐" not in html
    assert "/client/jweixin.js" in html  # the sandbox's JS-SDK for a sandbox brand
    assert "/static/js/sidebar.js" in html
    assert len(page.content) < 10_000
    assert "X-Frame-Options" not in page  # WeCom (and the sandbox) show it in a frame


# --- who may call what --------------------------------------------------------------------


CUSTOMER_CALLS = [
    ("get", ""),
    ("get", "timeline/"),
    ("get", "notes/"),
    ("get", "follow-ups/"),
    ("post", "notes/"),
    ("post", "follow-ups/"),
    ("post", "tags/"),
]


@pytest.mark.parametrize(("method", "part"), CUSTOMER_CALLS)
def test_a_customer_the_guide_does_not_hold_is_403(brand, client_a, amy, method, part):
    if method == "get":
        answer = client_a.get(url(BOB_CUSTOMER, part), **amy)
    else:
        answer = post(client_a, url(BOB_CUSTOMER, part), {"text": "x", "add": ["x"]}, amy)
    assert answer.status_code == 403
    assert answer.json()["error"] == "this customer is not yours"
    with schema_context("alpha"):
        assert not Note.objects.exists()
        assert not FollowUp.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, url(AMY_CUSTOMER, p)) for m, p in CUSTOMER_CALLS]
    + [
        ("get", "/sidebar/api/quick-replies/"),
        ("post", "/sidebar/api/quick-replies/1/message/"),
        ("post", "/sidebar/api/follow-ups/1/done/"),
        ("get", "/sidebar/api/jssdk-config/"),
    ],
)
def test_without_a_token_every_endpoint_is_401(brand, client_a, method, path):
    answer = getattr(client_a, method)(path, HTTP_ACCEPT="application/json")
    assert answer.status_code == 401
    assert answer.json()["login"] == "/sidebar/login/"


def test_posts_need_the_token_not_a_csrf_cookie(brand, wecom_sandbox, tenant_a):
    client = Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True)
    auth = header(sign_in(client, wecom_sandbox))
    answer = post(client, url(AMY_CUSTOMER, "notes/"), {"text": "来店试穿"}, auth)
    assert answer.status_code == 201


def test_the_store_scope_shows_colleagues_customers_read_only(brand, client_a, amy):
    with schema_context("alpha"):
        store = StoreFactory()
        Guide.objects.filter(userid__in=["amy", "bob"]).update(store=store)
        SidebarSettings.objects.create(guide_scope=SidebarSettings.Scope.STORE)

    answer = client_a.get(url(BOB_CUSTOMER), **amy)
    assert answer.status_code == 200
    assert answer.json()["tags"]["editable"] is False
    assert answer.json()["card"]["guides"] == [{"name": "导购bob", "userid": "bob", "mine": False}]
    refused = post(client_a, url(BOB_CUSTOMER, "tags/"), {"add": [brand.tags["VIP"]]}, amy)
    assert refused.status_code == 403
    assert wecom_tags(brand.control, BOB_CUSTOMER, "bob") == []
    # notes are shared within the store
    assert (
        post(client_a, url(BOB_CUSTOMER, "notes/"), {"text": "同事的客户"}, amy).status_code == 201
    )


# --- tags ---------------------------------------------------------------------------------


def test_tags_are_added_and_removed_in_wecom_first(brand, client_a, amy):
    gold, vip = brand.tags["金卡"], brand.tags["VIP"]

    added = post(client_a, url(AMY_CUSTOMER, "tags/"), {"add": [gold, vip]}, amy)
    assert added.status_code == 200
    assert added.json()["marked"] == sorted([gold, vip])
    assert wecom_tags(brand.control, AMY_CUSTOMER) == sorted([gold, vip])
    assert wecom_tags(brand.control, AMY_CUSTOMER, "bob") == []  # amy's own relation only

    removed = post(client_a, url(AMY_CUSTOMER, "tags/"), {"remove": [gold]}, amy)
    assert removed.json()["marked"] == [vip]
    assert wecom_tags(brand.control, AMY_CUSTOMER) == [vip]
    assert client_a.get(url(AMY_CUSTOMER), **amy).json()["tags"]["marked"] == [vip]
    with schema_context("alpha"):
        entry = CustomerEvent.objects.filter(kind="tagged").latest("id")
        assert entry.data["removed"] == [gold]
        assert entry.data["by"] == "导购amy (amy)"


def test_a_refused_tag_change_says_why_and_changes_nothing(brand, client_a, amy):
    unknown = post(client_a, url(AMY_CUSTOMER, "tags/"), {"add": ["etNOPE"]}, amy)
    assert unknown.status_code == 400
    assert "etNOPE" in unknown.json()["error"]

    brand.control.set_faults({"externalcontact/mark_tag": {"error_rate": 1.0, "errcode": 84061}})
    try:
        refused = post(client_a, url(AMY_CUSTOMER, "tags/"), {"add": [brand.tags["VIP"]]}, amy)
    finally:
        brand.control.clear_faults()
    assert refused.status_code == 502
    assert "84061" in refused.json()["error"]
    assert "nothing was changed" in refused.json()["error"]
    assert wecom_tags(brand.control, AMY_CUSTOMER) == []


def test_tag_errors_are_in_chinese_by_default(brand, client_a, wecom_sandbox):
    auth = header(sign_in(client_a, wecom_sandbox))  # no language cookie: Chinese
    brand.control.set_faults({"externalcontact/mark_tag": {"error_rate": 1.0, "errcode": 84061}})
    try:
        refused = post(client_a, url(AMY_CUSTOMER, "tags/"), {"add": [brand.tags["VIP"]]}, auth)
    finally:
        brand.control.clear_faults()
    assert refused.status_code == 502
    assert refused.json()["error"].startswith("企业微信拒绝了此修改（错误码 84061")


# --- notes and follow-ups -----------------------------------------------------------------


def test_a_note_is_saved_listed_and_on_the_timeline(brand, client_a, amy):
    empty = post(client_a, url(AMY_CUSTOMER, "notes/"), {"text": "   "}, amy)
    assert empty.status_code == 400
    assert empty.json()["error"] == "the note is empty"
    too_long = post(client_a, url(AMY_CUSTOMER, "notes/"), {"text": "x" * 2001}, amy)
    assert too_long.status_code == 400

    created = post(client_a, url(AMY_CUSTOMER, "notes/"), {"text": "  下周生日，送券  "}, amy)

    assert created.status_code == 201
    assert created.json()["note"]["text"] == "下周生日，送券"
    assert created.json()["note"]["author"] == "导购amy (amy)"
    listed = client_a.get(url(AMY_CUSTOMER, "notes/"), **amy).json()["notes"]
    assert [n["text"] for n in listed] == ["下周生日，送券"]
    newest = client_a.get(url(AMY_CUSTOMER, "timeline/"), **amy).json()["events"][0]
    assert newest["kind"] == "note"
    assert newest["data"] == {"note": "下周生日，送券", "by": "导购amy (amy)"}
    assert newest["guide"] == "导购amy"


def test_a_follow_up_is_added_and_done_once(brand, client_a, amy):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    for bad, message in [
        ({"title": "", "due": tomorrow}, "say what to do"),
        ({"title": "回访", "due": ""}, "choose a due date"),
        ({"title": "回访", "due": "soon"}, "the due date is not a date"),
        ({"title": "回访", "due": "2001-01-01"}, "the due date is in the past"),
        ({"title": "回访", "due": "2999-01-01"}, "the due date is more than a year away"),
    ]:
        refused = post(client_a, url(AMY_CUSTOMER, "follow-ups/"), bad, amy)
        assert (refused.status_code, refused.json()["error"]) == (400, message)

    created = post(
        client_a, url(AMY_CUSTOMER, "follow-ups/"), {"title": "回访", "due": tomorrow}, amy
    )
    assert created.status_code == 201
    item = created.json()["follow_up"]
    assert item["due_at"].startswith(f"{tomorrow}T23:59")
    assert item["done_at"] is None

    done = post(client_a, f"/sidebar/api/follow-ups/{item['id']}/done/", {}, amy)
    assert done.status_code == 200
    assert done.json()["completed_now"] is True
    assert done.json()["follow_up"]["done_by"] == "导购amy (amy)"
    again = post(client_a, f"/sidebar/api/follow-ups/{item['id']}/done/", {}, amy)
    assert again.json()["completed_now"] is False

    events = client_a.get(url(AMY_CUSTOMER, "timeline/"), **amy).json()["events"]
    assert [e["data"].get("follow_up_done") or e["data"].get("follow_up") for e in events[:2]] == [
        "回访",
        "回访",
    ]
    listed = client_a.get(url(AMY_CUSTOMER, "follow-ups/"), **amy).json()["follow_ups"]
    assert listed[0]["done_at"] is not None  # the history stays


def test_a_follow_up_of_a_customer_not_held_cannot_be_completed(brand, client_a, amy):
    with schema_context("alpha"):
        customer = Customer.objects.get(external_userid=BOB_CUSTOMER)
        item = follow_up_create(customer=customer, title="bob's", due=timezone.now(), author="bob")
    answer = post(client_a, f"/sidebar/api/follow-ups/{item.pk}/done/", {}, amy)
    assert answer.status_code == 404
    assert post(client_a, "/sidebar/api/follow-ups/999999/done/", {}, amy).status_code == 404
    with schema_context("alpha"):
        item.refresh_from_db()
        assert item.done_at is None


def test_open_follow_ups_come_first_and_overdue_ones_are_flagged(brand, client_a, amy):
    with schema_context("alpha"):
        customer = Customer.objects.get(external_userid=AMY_CUSTOMER)
        late = follow_up_create(
            customer=customer, title="late", due=timezone.now() - timedelta(hours=1), author="x"
        )
        FollowUp.objects.filter(pk=late.pk).update(created_at=timezone.now() - timedelta(days=3))
        follow_up_create(
            customer=customer, title="later", due=timezone.now() + timedelta(days=3), author="x"
        )
        done = follow_up_create(customer=customer, title="done", due=timezone.now(), author="x")
        FollowUp.objects.filter(pk=done.pk).update(done_at=timezone.now(), done_by="x")

    items = client_a.get(url(AMY_CUSTOMER, "follow-ups/"), **amy).json()["follow_ups"]

    assert [(i["title"], i["overdue"]) for i in items] == [
        ("late", True),
        ("later", False),
        ("done", False),
    ]


# --- the timeline -------------------------------------------------------------------------


def test_the_timeline_pages_backwards(brand, client_a, amy):
    with schema_context("alpha"):
        customer = Customer.objects.get(external_userid=AMY_CUSTOMER)
        CustomerEvent.objects.filter(customer=customer).delete()
        start = timezone.now() - timedelta(days=30)
        for i in range(14):
            customer_event_record(
                customer_id=customer.pk,
                kind=CustomerEvent.Kind.NOTE,
                occurred_at=start + timedelta(hours=i // 2),  # pairs at the same time
                data={"note": f"n{i}"},
            )

    first = client_a.get(url(AMY_CUSTOMER), **amy).json()["timeline"]
    second = client_a.get(url(AMY_CUSTOMER, "timeline/"), {"before": first["next"]}, **amy).json()

    seen = [e["data"]["note"] for e in first["events"] + second["events"]]
    assert seen == [f"n{i}" for i in range(13, -1, -1)]
    assert second["next"] is None
    bad = client_a.get(url(AMY_CUSTOMER, "timeline/"), {"before": "yesterday"}, **amy)
    assert bad.status_code == 400


# --- quick replies ------------------------------------------------------------------------


def test_quick_replies_are_listed_by_folder(brand, client_a, amy, django_assert_num_queries):
    with schema_context("alpha"):
        welcome = QuickReplyFolder.objects.create(name="欢迎语", order=1)
        offers = QuickReplyFolder.objects.create(name="活动", order=0)
        QuickReply.objects.create(folder=welcome, title="问候", text="您好，我是您的专属导购")
        QuickReply.objects.create(
            folder=offers, kind="link", title="五一活动", url="https://shop.example/may"
        )

    with django_assert_num_queries(6):  # the host's tenant (3), the guide, folders, replies
        answer = client_a.get("/sidebar/api/quick-replies/", **amy)

    folders = answer.json()["folders"]
    assert [f["name"] for f in folders] == ["活动", "欢迎语"]
    assert folders[1]["replies"][0]["text"] == "您好，我是您的专属导购"


def test_a_quick_reply_becomes_the_arguments_of_send_chat_message(brand, client_a, amy):
    with schema_context("alpha"):
        folder = QuickReplyFolder.objects.create(name="常用")
        text = QuickReply.objects.create(folder=folder, title="问候", text="您好")
        link = QuickReply.objects.create(
            folder=folder,
            kind="link",
            title="新品",
            url="https://shop.example/new",
            description="春季新品",
        )
        asset = media_asset_create(
            name="p.png", kind="image", content=PNG, content_type="image/png"
        )
        image = QuickReply.objects.create(folder=folder, kind="image", title="海报", media=asset)

    def message(reply):
        answer = post(client_a, f"/sidebar/api/quick-replies/{reply.pk}/message/", {}, amy)
        assert answer.status_code == 200, answer.content
        return answer.json()["message"]

    assert message(text) == {"msgtype": "text", "enterChat": True, "text": {"content": "您好"}}
    assert message(link)["news"] == {
        "link": "https://shop.example/new",
        "title": "新品",
        "desc": "春季新品",
        "imgUrl": "",
    }
    sent_image = message(image)
    assert sent_image["msgtype"] == "image"
    with schema_context("alpha"):
        asset.refresh_from_db()
        assert sent_image["image"]["mediaid"] == asset.media_id != ""
    assert post(client_a, "/sidebar/api/quick-replies/999999/message/", {}, amy).status_code == 404


@pytest.mark.parametrize(
    ("part", "body"),
    [
        ("notes/", {"text": "生日\u0000"}),
        ("follow-ups/", {"title": "回\u0000访", "due": "2999-01-01"}),
        ("tags/", {"add": ["et\u0000"], "remove": []}),
    ],
)
def test_a_nul_character_in_a_body_is_refused_and_nothing_saved(brand, client_a, amy, part, body):
    refused = post(client_a, url(AMY_CUSTOMER, part), body, amy)

    assert refused.status_code == 400
    assert refused.json()["error"] == "the request may not contain NUL characters"
    with schema_context("alpha"):
        assert not Note.objects.exists()
        assert not FollowUp.objects.exists()
