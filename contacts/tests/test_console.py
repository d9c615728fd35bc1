import re
from datetime import timedelta
from html import unescape

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import UserFactory
from contacts.models import (
    ContactSettings,
    Customer,
    CustomerEvent,
    GroupChatMember,
    Relation,
    SyncRun,
)
from contacts.services import contact_settings_get
from contacts.tests.factories import (
    CustomerEventFactory,
    CustomerFactory,
    GroupChatFactory,
    GroupChatMemberFactory,
    GuideFactory,
    RelationFactory,
    StoreFactory,
)

NEXT_LINK = re.compile(r'<a href="([^"]*)" rel="next">')
CUSTOMER_LINK = re.compile(r'href="/customers/(\d+)/"')
GUIDE_LINK = re.compile(r'href="/guides/(\d+)/"')


def login(client, role: str):
    with schema_context("alpha"):
        user = UserFactory(role=role)
        client.force_login(user)  # session and last_login live in the tenant's schema
    return user


def in_english(client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def body_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.content.decode())


def customer_ids_on(body: str) -> list[int]:
    return [int(pk) for pk in CUSTOMER_LINK.findall(body)]


# --- customers list -----------------------------------------------------------------------


def test_customers_list_shows_each_customer_with_the_guides_holding_them(db, client_a):
    login(client_a, "operator")
    with schema_context("alpha"):
        store = StoreFactory(name="静安寺店")
        anna = GuideFactory(name="安娜", store=store)
        bo = GuideFactory(name="小波", store=None)
        customer = CustomerFactory(name="王小明", type=Customer.Type.WECOM)
        RelationFactory(guide=anna, customer=customer, remark="老客户")
        RelationFactory(guide=bo, customer=customer, status=Relation.Status.DELETED_BY_CUSTOMER)

    body = body_of(client_a.get("/customers/"))

    assert "王小明" in body
    assert f'href="/customers/{customer.pk}/"' in body
    assert "安娜" in body
    assert "静安寺店" in body
    assert "老客户" in body
    assert "小波" in body
    assert "status-deleted_by_customer" in body


def test_filters_narrow_the_customers_list(db, client_a):
    login(client_a, "viewer")
    now = timezone.now()
    with schema_context("alpha"):
        store_a, store_b = StoreFactory(), StoreFactory()
        guide_a = GuideFactory(userid="anna", store=store_a)
        guide_b = GuideFactory(userid="bo", store=store_b)
        old = CustomerFactory(name="老朋友")
        RelationFactory(guide=guide_a, customer=old, added_at=now - timedelta(days=40))
        fresh = CustomerFactory(name="新朋友", type=Customer.Type.WECOM)
        RelationFactory(guide=guide_b, customer=fresh, added_at=now, add_way=3)
        gone = CustomerFactory(name="走了的")
        RelationFactory(
            guide=guide_b,
            customer=gone,
            added_at=now - timedelta(days=2),
            status=Relation.Status.DELETED_BY_CUSTOMER,
        )

    def names(query: str) -> set[str]:
        body = body_of(client_a.get(f"/customers/?{query}"))
        return {name for name in ("老朋友", "新朋友", "走了的") if name in body}

    assert names("") == {"老朋友", "新朋友", "走了的"}
    assert names("guide=anna") == {"老朋友"}
    assert names(f"guide={guide_b.pk}") == {"新朋友", "走了的"}
    assert names(f"store={store_b.pk}") == {"新朋友", "走了的"}
    assert names("status=deleted_by_customer") == {"走了的"}
    day = timezone.localdate(now - timedelta(days=5)).isoformat()
    assert names(f"added_from={day}") == {"新朋友", "走了的"}
    assert names(f"added_to={day}") == {"老朋友"}
    assert names("add_way=3") == {"新朋友"}
    assert names(f"customer_type={Customer.Type.WECOM}") == {"新朋友"}
    assert names(f"store={store_b.pk}&status=active") == {"新朋友"}


def test_search_finds_customers_by_name_remark_and_phone(db, client_a):
    login(client_a, "operator")
    with schema_context("alpha"):
        RelationFactory(customer=CustomerFactory(name="张三丰"))
        RelationFactory(customer=CustomerFactory(name="李四"), remark="VIP 李太太")
        RelationFactory(customer=CustomerFactory(name="王五"), remark_mobiles=["13812345678"])

    def found(q: str) -> set[str]:
        body = body_of(client_a.get("/customers/", {"q": q}))
        return {name for name in ("张三丰", "李四", "王五") if name in body}

    assert found("三丰") == {"张三丰"}
    assert found("vip") == {"李四"}
    assert found("13812345678") == {"王五"}
    assert found("没有这个人") == set()


def test_next_page_links_walk_every_customer_once(db, client_a):
    login(client_a, "operator")
    base = timezone.now()
    with schema_context("alpha"):
        guide = GuideFactory()
        wanted = set()
        for index in range(123):
            # seven customers share each timestamp, so pages split inside ties
            customer = CustomerFactory(last_added_at=base - timedelta(minutes=index // 7))
            RelationFactory(guide=guide, customer=customer)
            wanted.add(customer.pk)
        # filtered out: the next-page link must keep the filter
        RelationFactory(customer=CustomerFactory(type=Customer.Type.WECOM))

    seen: list[int] = []
    url = f"/customers/?customer_type={Customer.Type.WECHAT}"
    pages = 0
    while url:
        body = body_of(client_a.get(url))
        seen.extend(customer_ids_on(body))
        pages += 1
        match = NEXT_LINK.search(body)
        if match:
            url = "/customers/" + match.group(1)
            assert "customer_type=1" in url
            assert "after=" in url
        else:
            url = ""
        if pages > 1:
            assert 'href="?customer_type=1"' in body  # the "first page" link keeps filters

    assert pages == 3
    assert len(seen) == len(set(seen)) == 123
    assert set(seen) == wanted


def test_invalid_filters_and_cursor_render_the_page_with_an_error(db, client_a):
    login(client_a, "operator")
    in_english(client_a)
    with schema_context("alpha"):
        RelationFactory(customer=CustomerFactory(name="还在"))

    for query, error in [
        ("after=not-a-cursor", "That page link is no longer valid"),
        ("after=" + "A" * 40, "That page link is no longer valid"),
        ("added_from=2024-13-45", "Enter a valid date"),
        ("added_from=2025-03-01&added_to=2025-01-01", "The end date is before the start date"),
        ("guide=nobody", "No guide with the userid or id “nobody”"),
        ("store=999999", "Select a valid choice"),
        ("store=abc&add_way=x&customer_type=9&status=zzz", "Select a valid choice"),
    ]:
        body = body_of(client_a.get(f"/customers/?{query}"))
        assert error in body, query
        assert 'class="message error"' in body
        assert "还在" in body, query  # the invalid filter is ignored, the page still lists


# --- customer page ------------------------------------------------------------------------


def test_customer_page_shows_profile_relations_and_timeline(db, client_a):
    login(client_a, "admin")
    with schema_context("alpha"):
        customer = CustomerFactory(
            name="周杰", unionid="union-123", corp_name="某某科技", gender=Customer.Gender.MALE
        )
        guide = GuideFactory(name="导购甲", store=StoreFactory(name="南京西路店"))
        RelationFactory(
            guide=guide,
            customer=customer,
            remark="周先生",
            description="喜欢跑鞋",
            remark_mobiles=["13812345678"],
            state="poster-2025",
            wecom_tag_ids=["etTAG1", "etTAG2"],
        )
        CustomerEventFactory(
            customer=customer, guide=guide, kind=CustomerEvent.Kind.NOTE, data={"text": "到店试穿"}
        )

    body = body_of(client_a.get(f"/customers/{customer.pk}/"))

    for text in ("周杰", "union-123", "某某科技", "导购甲", "南京西路店", "周先生", "喜欢跑鞋"):
        assert text in body
    assert "13812345678" in body  # admins see full numbers
    assert "poster-2025" in body
    assert "etTAG1" in body
    assert "etTAG2" in body
    assert "到店试穿" in body


def test_customer_timeline_is_keyset_paginated(db, client_a):
    login(client_a, "operator")
    base = timezone.now()
    with schema_context("alpha"):
        customer = CustomerFactory()
        for index in range(60):
            CustomerEventFactory(
                customer=customer,
                kind=CustomerEvent.Kind.NOTE,
                occurred_at=base - timedelta(minutes=index),
                data={"text": f"note-{index:02d}"},
            )

    first = body_of(client_a.get(f"/customers/{customer.pk}/"))
    second = body_of(client_a.get(f"/customers/{customer.pk}/" + NEXT_LINK.search(first).group(1)))

    first_notes = set(re.findall(r"note-\d\d", first))
    second_notes = set(re.findall(r"note-\d\d", second))
    assert len(first_notes) == 50
    assert len(second_notes) == 10
    assert first_notes | second_notes == {f"note-{i:02d}" for i in range(60)}
    assert not NEXT_LINK.search(second)


def test_viewer_sees_masked_phones_everywhere(db, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        customer = CustomerFactory(name="手机号客户")
        relation = RelationFactory(customer=customer, remark_mobiles=["13812345678"])
        CustomerEventFactory(
            customer=customer,
            guide=relation.guide,
            kind=CustomerEvent.Kind.EDITED,
            data={"before": {"remark_mobiles": ["13912345678"]}, "remark_mobiles": ["13812345678"]},
        )

    pages = [
        body_of(client_a.get("/customers/")),
        body_of(client_a.get(f"/customers/{customer.pk}/")),
        body_of(client_a.get(f"/guides/{relation.guide_id}/")),
    ]

    for body in pages:
        assert "138****5678" in body
        assert "13812345678" not in body
        assert "13912345678" not in body


def test_another_tenant_cannot_see_the_customer(db, client_a, client_b):
    with schema_context("alpha"):
        customer = CustomerFactory(name="阿尔法的客户")
        relation = RelationFactory(customer=customer)
    with schema_context("beta"):
        client_b.force_login(UserFactory(role="admin"))

    assert client_b.get(f"/customers/{customer.pk}/").status_code == 404
    assert client_b.get(f"/guides/{relation.guide_id}/").status_code == 404
    assert "阿尔法的客户" not in body_of(client_b.get("/customers/"))
    assert "阿尔法的客户" not in body_of(client_b.get("/customers/?q=阿尔法"))


def test_console_pages_need_a_login(db, client_a):
    for url in ("/customers/", "/guides/", "/group-chats/", "/customers/sync/"):
        response = client_a.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


# --- export -------------------------------------------------------------------------------


def test_viewer_cannot_export(db, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        RelationFactory(remark_mobiles=["13812345678"])

    response = client_a.get("/customers/export.csv")

    assert response.status_code == 403
    assert b"13812345678" not in response.content
    with schema_context("alpha"):
        assert not AuditLogEntry.objects.filter(action="contacts.exported").exists()


def test_export_streams_every_relation_with_a_bom_and_is_audited(db, client_a):
    operator = login(client_a, "operator")
    with schema_context("alpha"):
        store = StoreFactory(name="徐家汇店")
        guide = GuideFactory(userid="anna", name="安娜", store=store)
        other = GuideFactory(userid="bo", name="小波")
        shared = CustomerFactory(name="两个导购的客户", external_userid="wmSHARED")
        RelationFactory(guide=guide, customer=shared, remark="=1+1", remark_mobiles=["13812345678"])
        RelationFactory(guide=other, customer=shared, state="poster")
        for _index in range(4):
            RelationFactory(guide=guide)
        RelationFactory(customer=CustomerFactory(type=Customer.Type.WECOM))  # filtered out

    response = client_a.get(f"/customers/export.csv?customer_type={Customer.Type.WECHAT}")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    lines = raw.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 6  # header + one row per relation of the 5 wechat customers
    shared_rows = [line for line in lines if line.startswith("wmSHARED,")]
    assert len(shared_rows) == 2
    anna_row = next(line for line in shared_rows if ",anna," in line)
    assert "两个导购的客户" in anna_row
    assert "安娜" in anna_row
    assert "徐家汇店" in anna_row
    assert "13812345678" in anna_row
    assert "'=1+1" in anna_row  # never a formula in Excel
    assert any(",bo," in line and "poster" in line for line in shared_rows)
    with schema_context("alpha"):
        entry = AuditLogEntry.objects.get(action="contacts.exported")
        assert entry.actor_id == str(operator.pk)
        assert entry.detail == {"customer_type": Customer.Type.WECHAT}


def test_export_with_invalid_filters_exports_nothing(db, client_a):
    login(client_a, "admin")

    response = client_a.get("/customers/export.csv?added_from=yesterday")

    assert response.status_code == 302
    assert response["Location"].startswith("/customers/?added_from=yesterday")
    with schema_context("alpha"):
        assert not AuditLogEntry.objects.filter(action="contacts.exported").exists()


# --- guides and group chats ---------------------------------------------------------------


def test_guides_list_shows_counts_and_filters(db, client_a):
    login(client_a, "viewer")
    now = timezone.now()
    with schema_context("alpha"):
        store = StoreFactory(name="五角场店")
        busy = GuideFactory(name="忙碌导购", store=store)
        for _index in range(3):
            RelationFactory(guide=busy, added_at=now - timedelta(days=1))
        RelationFactory(guide=busy, added_at=now - timedelta(days=30))
        RelationFactory(
            guide=busy,
            added_at=now - timedelta(days=30),
            status=Relation.Status.DELETED_BY_CUSTOMER,
            deleted_at=now - timedelta(days=2),
        )
        GuideFactory(name="离职导购", status="departed")

    body = body_of(client_a.get("/guides/"))
    row = re.search(r"忙碌导购.*?</tr>", body, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["4", "3", "1"]
    assert "五角场店" in row
    assert "离职导购" in body

    assert "离职导购" not in body_of(client_a.get("/guides/?status=active"))
    assert "忙碌导购" not in body_of(client_a.get("/guides/?status=departed"))
    filtered = body_of(client_a.get(f"/guides/?store={store.pk}"))
    assert "忙碌导购" in filtered
    assert "离职导购" not in filtered
    assert "离职导购" in body_of(client_a.get("/guides/?q=离职"))


def test_guide_page_lists_their_customers_and_group_chats(db, client_a):
    login(client_a, "operator")
    with schema_context("alpha"):
        guide = GuideFactory(name="导购乙")
        mine = RelationFactory(
            guide=guide, customer=CustomerFactory(name="我的客户"), remark="备注A"
        )
        RelationFactory(customer=CustomerFactory(name="别人的客户"))
        GroupChatFactory(owner=guide, name="乙的群")
        GroupChatFactory(name="别人的群")

    body = body_of(client_a.get(f"/guides/{guide.pk}/"))

    assert "我的客户" in body
    assert "备注A" in body
    assert f'href="/customers/{mine.customer_id}/"' in body
    assert "别人的客户" not in body
    assert "乙的群" in body
    assert "别人的群" not in body


def test_group_chats_list_and_members(db, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        owner = GuideFactory(userid="owner1", name="群主导购")
        chat = GroupChatFactory(owner=owner, name="会员群", member_count=2, customer_count=1)
        GroupChatFactory(name="另一个群", status="dismissed")
        GroupChatMemberFactory(
            chat=chat,
            kind=GroupChatMember.Kind.STAFF,
            userid="owner1",
            guide=owner,
            name="群主导购",
            join_scene=1,
            join_time=timezone.now(),
        )
        member_customer = CustomerFactory(name="群里的客户")
        GroupChatMemberFactory(
            chat=chat, customer=member_customer, name="群里的客户", join_scene=3, is_admin=True
        )
        GroupChatMemberFactory(chat=chat, name="陌生人", userid="wmUNKNOWN")

    body = body_of(client_a.get("/group-chats/"))
    assert "会员群" in body
    assert "群主导购" in body
    assert "另一个群" in body
    assert "另一个群" not in body_of(client_a.get("/group-chats/?status=normal"))
    assert "另一个群" not in body_of(client_a.get("/group-chats/?owner=owner1"))
    assert "会员群" not in body_of(client_a.get("/group-chats/?q=另一个"))

    detail = body_of(client_a.get(f"/group-chats/{chat.pk}/"))
    assert f'href="/customers/{member_customer.pk}/"' in detail
    assert f'href="/guides/{owner.pk}/"' in detail
    assert "陌生人" in detail


# --- deletions and alert settings ---------------------------------------------------------


def test_deletions_page_lists_who_deleted_whom(db, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    with schema_context("alpha"):
        guide = GuideFactory(name="被删导购", store=StoreFactory(name="陆家嘴店"))
        CustomerEventFactory(
            customer=CustomerFactory(name="删人的客户"),
            guide=guide,
            kind=CustomerEvent.Kind.DELETED_BY_CUSTOMER,
        )
        CustomerEventFactory(
            customer=CustomerFactory(name="被删的客户"),
            guide=guide,
            kind=CustomerEvent.Kind.DELETED_BY_GUIDE,
        )
        CustomerEventFactory(customer=CustomerFactory(name="新加的客户"))

    body = body_of(client_a.get("/customers/deletions/"))

    assert "删人的客户" in body
    assert "被删的客户" in body
    assert "新加的客户" not in body
    assert "被删导购" in body
    assert "陆家嘴店" in body
    assert "The customer deleted the guide" in body
    assert "The guide deleted the customer" in body
    assert "<textarea" not in body  # viewers read the settings, they do not get the form


def test_admin_saves_deletion_alert_settings(db, client_a):
    login(client_a, "admin")
    with schema_context("alpha"):
        anna = GuideFactory(userid="anna")
        bo = GuideFactory(userid="bo")

    response = client_a.post(
        "/customers/deletions/",
        {
            "deletion_alert_mode": "daily",
            "alert_on_guide_deletes": "",
            "daily_sync_enabled": "on",
            "recipients": f"anna，{bo.pk}\n",
        },
        follow=True,
    )

    body = body_of(response)
    assert 'class="message success"' in body
    with schema_context("alpha"):
        row = contact_settings_get()
        assert row.deletion_alert_mode == ContactSettings.AlertMode.DAILY
        assert row.alert_on_guide_deletes is False
        assert row.daily_sync_enabled is True
        assert set(row.deletion_alert_recipients.all()) == {anna, bo}
        assert AuditLogEntry.objects.filter(action="settings.changed").exists()
    assert "anna" in body  # the saved recipients are shown back


def test_unknown_recipient_is_refused(db, client_a):
    login(client_a, "admin")
    in_english(client_a)

    response = client_a.post(
        "/customers/deletions/",
        {"deletion_alert_mode": "immediate", "recipients": "ghost"},
    )

    assert "No guide with the userid or id: ghost" in body_of(response)
    with schema_context("alpha"):
        assert contact_settings_get().deletion_alert_mode == ContactSettings.AlertMode.IMMEDIATE
        assert not contact_settings_get().deletion_alert_recipients.exists()


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_admins_change_alert_settings(db, client_a, role):
    login(client_a, role)

    response = client_a.post("/customers/deletions/", {"deletion_alert_mode": "off"})

    assert response.status_code == 403
    with schema_context("alpha"):
        assert contact_settings_get().deletion_alert_mode != "off"


# --- sync ---------------------------------------------------------------------------------


def test_operator_starts_a_sync_and_a_second_one_is_refused(db, client_a):
    login(client_a, "operator")

    first = client_a.post("/customers/sync/", follow=True)
    second = client_a.post("/customers/sync/", follow=True)

    assert 'class="message success"' in body_of(first)
    assert 'class="message error"' in body_of(second)
    with schema_context("alpha"):
        run = SyncRun.objects.get()
        assert run.trigger == "console"
        assert run.in_flight
    assert '<meta http-equiv="refresh" content="3">' in body_of(second)


def test_sync_page_shows_progress_and_viewers_only_look(db, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        SyncRun.objects.create(
            status=SyncRun.Status.RUNNING,
            phase=SyncRun.Phase.CONTACTS,
            guide_userids=[f"g{i}" for i in range(250)],
            batch_index=1,
            stats={"customers_new": 1234, "relations_new": 2345},
            started_at=timezone.now(),
        )
        SyncRun.objects.create(
            status=SyncRun.Status.FAILED, in_flight=None, error="errcode 60011: no privilege"
        )

    body = body_of(client_a.get("/customers/sync/"))

    assert "1 / 3" in body
    assert "250" in body
    assert "新客户" in body
    assert "1234" in body
    assert "errcode 60011" in body
    assert '<meta http-equiv="refresh" content="3">' in body
    assert '<button type="submit" class="primary"' not in body  # no "sync now" for viewers
    assert client_a.post("/customers/sync/").status_code == 403
    with schema_context("alpha"):
        assert SyncRun.objects.count() == 2


def test_sync_page_does_not_refresh_when_idle(db, client_a):
    login(client_a, "admin")
    with schema_context("alpha"):
        SyncRun.objects.create(status=SyncRun.Status.DONE, in_flight=None)

    body = body_of(client_a.get("/customers/sync/"))

    assert 'http-equiv="refresh"' not in body


# --- query counts -------------------------------------------------------------------------
# routing (search_path, domain, search_path), session, user: 5 queries on every page.


@pytest.mark.parametrize("rows", [5, 50])
def test_customers_list_query_count_does_not_grow(db, client_a, django_assert_num_queries, rows):
    login(client_a, "viewer")
    with schema_context("alpha"):
        for _index in range(rows):
            customer = CustomerFactory()
            RelationFactory(customer=customer, remark_mobiles=["13812345678"])
            RelationFactory(customer=customer, guide=GuideFactory(store=None))

    # + stores, tags, segments and channels for the filter, the customers page, their
    # relations with guides and stores
    with django_assert_num_queries(11):
        response = client_a.get("/customers/")

    assert len(set(customer_ids_on(body_of(response)))) == rows


@pytest.mark.parametrize("rows", [5, 50])
def test_customer_page_query_count_does_not_grow(db, client_a, django_assert_num_queries, rows):
    login(client_a, "viewer")
    with schema_context("alpha"):
        customer = CustomerFactory()
        for _index in range(rows):
            guide = GuideFactory()
            RelationFactory(customer=customer, guide=guide)
            CustomerEventFactory(customer=customer, guide=guide)

    # + the customer, its relations with guides and stores, the timeline page with guides,
    # its transfers, its notes and follow-ups (sidebar), its lifecycle stage
    with django_assert_num_queries(12):
        response = client_a.get(f"/customers/{customer.pk}/")

    assert len(GUIDE_LINK.findall(body_of(response))) == 2 * rows


@pytest.mark.parametrize("rows", [5, 50])
def test_guides_list_query_count_does_not_grow(db, client_a, django_assert_num_queries, rows):
    login(client_a, "viewer")
    with schema_context("alpha"):
        for _index in range(rows):
            RelationFactory(guide=GuideFactory())

    # + stores for the filter, the count, the page with stores and the three counts
    with django_assert_num_queries(8):
        response = client_a.get("/guides/")

    assert len(GUIDE_LINK.findall(body_of(response))) == rows


@pytest.mark.parametrize("rows", [5, 50])
def test_group_chats_list_query_count_does_not_grow(db, client_a, django_assert_num_queries, rows):
    login(client_a, "viewer")
    with schema_context("alpha"):
        for _index in range(rows):
            GroupChatFactory()

    # + the count, the page with owners and their stores
    with django_assert_num_queries(7):
        response = client_a.get("/group-chats/")

    assert len(re.findall(r'href="/group-chats/\d+/"', body_of(response))) == rows


@pytest.mark.parametrize("rows", [5, 50])
def test_deletions_page_query_count_does_not_grow(db, client_a, django_assert_num_queries, rows):
    login(client_a, "admin")
    with schema_context("alpha"):
        contact_settings_get()
        for _index in range(rows):
            CustomerEventFactory(guide=GuideFactory(), kind=CustomerEvent.Kind.DELETED_BY_CUSTOMER)

    # + the settings row, its recipients, the deletions page with customers, guides, stores
    with django_assert_num_queries(8):
        response = client_a.get("/customers/deletions/")

    assert len(customer_ids_on(body_of(response))) == rows


def test_mask_phone_keeps_only_the_ends():
    from contacts.privacy import mask_phone

    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86****5678"
    assert mask_phone("6543210") == "65****10"
    assert mask_phone("12") == "**"
    assert mask_phone("") == ""
