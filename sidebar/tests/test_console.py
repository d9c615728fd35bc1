"""The console's side of the sidebar: the quick-reply library (operators), the sidebar
settings (admins) with the WeCom setup values, and notes and follow-ups on the customer
page."""

from datetime import timedelta
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import UserFactory
from contacts.models import Customer
from scrm.wecom.models import MediaAsset
from sidebar.models import QuickReply, QuickReplyFolder, SidebarSettings
from sidebar.services import follow_up_complete, follow_up_create, note_create
from sidebar.tests.helpers import in_english
from sidebar.tests.test_pages import PNG

LIBRARY = "/sidebar/manage/quick-replies/"
SETTINGS = "/sidebar/manage/settings/"


def login(client, role: str = "operator"):
    with schema_context("alpha"):
        user = UserFactory(role=role)
        client.force_login(user)
    in_english(client)
    return user


def body_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def operator(db, tenant_a, client_a):
    return login(client_a, "operator")


@pytest.fixture
def folder(tenant_a):
    with schema_context("alpha"):
        return QuickReplyFolder.objects.create(name="欢迎语")


def test_the_library_is_in_the_navigation_and_lists_folders(operator, client_a, folder):
    with schema_context("alpha"):
        QuickReply.objects.create(folder=folder, title="问候", text="您好，我是导购小王")

    page = body_of(client_a.get(LIBRARY))

    assert f'href="{LIBRARY}"' in page  # the navigation's entry
    assert f'href="{SETTINGS}"' in page
    assert "欢迎语" in page
    assert "您好，我是导购小王" in page


def test_an_operator_creates_a_folder_and_replies_of_each_kind(operator, client_a, folder):
    created = client_a.post(LIBRARY, {"name": "活动", "order": 1}, follow=True)
    assert messages_of(created) == ["Folder “活动” created."]
    duplicate = client_a.post(LIBRARY, {"name": "活动"}, follow=True)
    assert messages_of(duplicate) == ["Nothing was saved: a folder named “活动” exists already"]

    new = "/sidebar/manage/quick-replies/new/"
    text = client_a.post(
        new, {"folder": folder.pk, "kind": "text", "title": "问候", "text": "您好"}, follow=True
    )
    assert messages_of(text) == ["Quick reply “问候” saved."]
    link = client_a.post(
        new,
        {
            "folder": folder.pk,
            "kind": "link",
            "title": "新品",
            "url": "https://shop.example/new",
            "description": "春季新品",
            "text": "ignored for a link",
        },
        follow=True,
    )
    assert messages_of(link) == ["Quick reply “新品” saved."]
    image = client_a.post(
        new,
        {
            "folder": folder.pk,
            "kind": "image",
            "title": "海报",
            "upload": SimpleUploadedFile("poster.png", PNG, content_type="image/png"),
        },
        follow=True,
    )
    assert messages_of(image) == ["Quick reply “海报” saved."]

    with schema_context("alpha"):
        replies = {r.title: r for r in QuickReply.objects.select_related("media")}
        assert replies["问候"].text == "您好"
        assert (replies["新品"].url, replies["新品"].text) == ("https://shop.example/new", "")
        assert replies["海报"].media is not None
        assert replies["海报"].media.kind == MediaAsset.Kind.IMAGE
        assert AuditLogEntry.objects.filter(action="sidebar.reply_created").count() == 3


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": "text", "title": "空的", "text": " "}, "a text reply needs its text"),
        (
            {"kind": "image", "title": "没图"},
            "an image reply needs an image from the media library",
        ),
        (
            {"kind": "link", "title": "坏链接", "url": "javascript:alert(1)"},
            "a link reply needs an http(s) address",
        ),
    ],
)
def test_a_reply_missing_what_its_kind_needs_is_refused(operator, client_a, folder, fields, reason):
    answer = client_a.post("/sidebar/manage/quick-replies/new/", {"folder": folder.pk, **fields})
    assert messages_of(answer) == [f"Nothing was saved: {reason}"]
    with schema_context("alpha"):
        assert not QuickReply.objects.exists()


def test_an_operator_edits_and_deletes_replies_and_folders(operator, client_a, folder):
    with schema_context("alpha"):
        reply = QuickReply.objects.create(folder=folder, title="问候", text="您好")

    edit = f"/sidebar/manage/quick-replies/{reply.pk}/edit/"
    assert "您好" in body_of(client_a.get(edit))
    client_a.post(edit, {"folder": folder.pk, "kind": "text", "title": "问候", "text": "您好呀"})
    with schema_context("alpha"):
        reply.refresh_from_db()
        assert reply.text == "您好呀"

    client_a.post(f"/sidebar/manage/quick-replies/folders/{folder.pk}/edit/", {"name": "开场白"})
    with schema_context("alpha"):
        folder.refresh_from_db()
        assert folder.name == "开场白"

    delete = f"/sidebar/manage/quick-replies/{reply.pk}/delete/"
    assert "Delete the quick reply “问候”?" in body_of(client_a.get(delete))
    client_a.post(delete)
    client_a.post(f"/sidebar/manage/quick-replies/folders/{folder.pk}/delete/")
    with schema_context("alpha"):
        assert not QuickReply.objects.exists()
        assert not QuickReplyFolder.objects.exists()


def test_a_viewer_reads_the_library_but_changes_nothing(db, tenant_a, client_a, folder):
    login(client_a, "viewer")
    page = body_of(client_a.get(LIBRARY))
    assert "New folder" not in page
    assert client_a.post(LIBRARY, {"name": "x"}).status_code == 403
    assert client_a.get("/sidebar/manage/quick-replies/new/").status_code == 403
    assert (
        client_a.post(f"/sidebar/manage/quick-replies/folders/{folder.pk}/delete/").status_code
        == 403
    )
    with schema_context("alpha"):
        assert QuickReplyFolder.objects.count() == 1


def test_the_settings_page_shows_the_wecom_setup_and_admins_change_the_scope(
    db, tenant_a, client_a
):
    login(client_a, "operator")
    page = body_of(client_a.get(SETTINGS))
    assert "http://alpha.localhost/sidebar/" in page  # the page address to enter in WeCom
    assert "<code>alpha.localhost</code>" in page  # the trusted domain
    assert client_a.post(SETTINGS, {"guide_scope": "store"}).status_code == 403

    login(client_a, "admin")
    saved = client_a.post(SETTINGS, {"guide_scope": "store"}, follow=True)
    assert messages_of(saved) == ["Sidebar settings saved."]
    with schema_context("alpha"):
        assert SidebarSettings.objects.get().guide_scope == "store"
        assert AuditLogEntry.objects.filter(action="sidebar.settings_changed").exists()


def test_the_customer_page_shows_notes_and_follow_ups(operator, client_a):
    with schema_context("alpha"):
        customer = Customer.objects.create(external_userid="wmCONSOLE0001", name="王小姐")
        note_create(customer=customer, text="喜欢红色\n周末来店", author="导购amy (amy)")
        follow_up_create(
            customer=customer,
            title="新品到店提醒",
            due=timezone.now() + timedelta(days=1),
            author="导购amy (amy)",
        )
        done = follow_up_create(customer=customer, title="生日券", due=timezone.now(), author="x")
        follow_up_complete(follow_up=done, by="导购bob (bob)")

    page = body_of(client_a.get(f"/customers/{customer.pk}/"))

    assert "Notes and follow-ups" in page
    assert "喜欢红色<br>周末来店" in page
    assert "新品到店提醒" in page
    assert "导购bob (bob)" in page  # who completed the done one


def test_an_order_past_the_largest_is_refused_not_a_server_error(operator, client_a, folder):
    folder_answer = client_a.post(LIBRARY, {"name": "活动", "order": 10**22})
    reply_answer = client_a.post(
        "/sidebar/manage/quick-replies/new/",
        {"folder": folder.pk, "kind": "text", "title": "问候", "text": "您好", "order": 10**22},
    )

    assert folder_answer.status_code == 200  # the form again, with the error
    assert "9999" in folder_answer.content.decode()
    assert reply_answer.status_code == 200
    assert "9999" in reply_answer.content.decode()
    with schema_context("alpha"):
        assert not QuickReply.objects.exists()
        assert not QuickReplyFolder.objects.filter(name="活动").exists()
