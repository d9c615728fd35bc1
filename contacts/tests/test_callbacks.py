"""Incremental sync: each callback kind, processed by the real handlers against the sandbox.

Events are stored through the platform's inbox (as the callback view does) and processed
in-process; duplicates are stored twice and processed once, and out-of-order deliveries
leave the final state WeCom has.
"""

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from contacts.alerts import deletion_alert_compose
from contacts.models import Customer, CustomerEvent, GroupChat, Guide, Relation, Store
from scrm.wecom.events.services import callback_event_process, callback_event_store
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox

CORP_ID = "wwcallbacktest01"


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    control = wecom_sandbox.control
    control.add_department(CORP_ID, "静安店", id=2)
    control.add_member(CORP_ID, "amy", name="Amy", department=[2], notify=False)
    control.add_member(CORP_ID, "bob", name="Bob", department=[2], notify=False)
    with schema_context("alpha"):
        store = Store.objects.create(department_id=2, name="静安店")
        Guide.objects.create(userid="amy", name="Amy", store=store)
    return control


def deliver(control, change_type: str, event: str = "change_external_contact", at=None, **fields):
    """Store one callback in alpha's inbox and process it; returns the stored event (None
    for a duplicate, which is not processed again)."""
    payload = {
        "ToUserName": CORP_ID,
        "FromUserName": "sys",
        "MsgType": "event",
        "Event": event,
        "ChangeType": change_type,
        "CreateTime": str(at if at is not None else control.now()),
        **fields,
    }
    stored = callback_event_store(
        app_kind="customer_contact", fields=payload, raw_xml="<xml/>", tenant_schema="alpha"
    )
    if stored is not None:
        assert callback_event_process(event_id=stored.pk) == "done", stored.pk
    return stored


def relation(userid: str, external_userid: str) -> Relation:
    return Relation.objects.select_related("customer").get(
        guide__userid=userid, customer__external_userid=external_userid
    )


def timeline(external_userid: str) -> list[str]:
    return list(
        CustomerEvent.objects.filter(customer__external_userid=external_userid)
        .order_by("occurred_at", "id")
        .values_list("kind", flat=True)
    )


def test_add_creates_customer_relation_and_timeline_once(corp):
    corp.add_customer(
        CORP_ID,
        external_userid="wmADD0001",
        name="王小姐",
        follows=[{"userid": "amy", "remark": "老顾客", "state": "poster-7", "add_way": 1}],
    )
    with schema_context("alpha"):
        fields = {"UserID": "amy", "ExternalUserID": "wmADD0001", "State": "poster-7"}
        at = corp.now()

        first = deliver(corp, "add_external_contact", at=at, **fields)
        duplicate = deliver(corp, "add_external_contact", at=at, **fields)
        # WeCom re-sends with a new CreateTime: stored, processed, changes nothing
        deliver(corp, "add_external_contact", at=at + 1, **fields)

        assert first is not None
        assert duplicate is None
        added = relation("amy", "wmADD0001")
        assert added.status == Relation.Status.ACTIVE
        assert added.remark == "老顾客"
        assert added.state == "poster-7"
        assert added.customer.name == "王小姐"
        assert timeline("wmADD0001") == ["added"]


def test_add_for_a_guide_not_seen_yet_fetches_the_member(corp):
    corp.add_customer(CORP_ID, external_userid="wmADD0002", follows=[{"userid": "bob"}])
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="bob", ExternalUserID="wmADD0002")

        bob = Guide.objects.get(userid="bob")
        assert bob.name == "Bob"
        assert bob.store == Store.objects.get(department_id=2)
        assert relation("bob", "wmADD0002").status == Relation.Status.ACTIVE


def test_half_add_records_the_pending_friend(corp):
    corp.half_add(CORP_ID, "amy", external_userid="wmHALF0001", name="李先生")
    with schema_context("alpha"):
        deliver(corp, "add_half_external_contact", UserID="amy", ExternalUserID="wmHALF0001")

        assert relation("amy", "wmHALF0001").status == Relation.Status.ACTIVE
        assert timeline("wmHALF0001") == ["added", "pending"]


def test_edit_updates_remark_and_tags_with_timeline(corp):
    corp.console_corp_tags(CORP_ID, "create", group_name="偏好", tags=["口红"])
    corp.add_customer(CORP_ID, external_userid="wmEDIT0001", follows=[{"userid": "amy"}])
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmEDIT0001")
        tag_id = _tag_ids(corp)[0]

        corp.edit_relation(
            CORP_ID, "amy", "wmEDIT0001", add_tag=[tag_id], remark="爱口红", description="VIP"
        )
        deliver(corp, "edit_external_contact", UserID="amy", ExternalUserID="wmEDIT0001")

        edited = relation("amy", "wmEDIT0001")
        assert edited.remark == "爱口红"
        assert edited.description == "VIP"
        assert edited.wecom_tag_ids == [tag_id]
        assert timeline("wmEDIT0001") == ["added", "edited", "tagged"]


def _tag_ids(control):
    from scrm.wecom.client import wecom_client

    groups = wecom_client().post("externalcontact/get_corp_tag_list", data={})["tag_group"]
    return [t["id"] for g in groups for t in g["tag"]]


def test_customer_deletes_guide(corp):
    corp.add_customer(CORP_ID, external_userid="wmDEL0001", follows=[{"userid": "amy"}])
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmDEL0001")
        corp.customer_deletes_member(CORP_ID, "wmDEL0001", "amy")

        deliver(corp, "del_follow_user", UserID="amy", ExternalUserID="wmDEL0001")
        deliver(
            corp, "del_follow_user", at=corp.now() + 5, UserID="amy", ExternalUserID="wmDEL0001"
        )

        gone = relation("amy", "wmDEL0001")
        assert gone.status == Relation.Status.DELETED_BY_CUSTOMER
        assert gone.deleted_at is not None
        assert timeline("wmDEL0001") == ["added", "deleted_by_customer"]


def test_guide_deletes_customer_and_transfer_removal(corp):
    corp.add_customer(
        CORP_ID,
        external_userid="wmDEL0002",
        follows=[{"userid": "amy"}, {"userid": "bob"}],
    )
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmDEL0002")
        corp.member_deletes_customer(CORP_ID, "amy", "wmDEL0002")

        deliver(corp, "del_external_contact", UserID="amy", ExternalUserID="wmDEL0002")
        deliver(
            corp,
            "del_external_contact",
            UserID="bob",
            ExternalUserID="wmDEL0002",
            Source="DELETE_BY_TRANSFER",
        )

        assert relation("amy", "wmDEL0002").status == Relation.Status.DELETED_BY_GUIDE
        assert relation("bob", "wmDEL0002").status == Relation.Status.TRANSFERRED
        assert sorted(timeline("wmDEL0002")) == [
            "added",
            "added",
            "deleted_by_guide",
            "transferred",
        ]


def test_add_arriving_after_the_delete_of_the_same_relation_stays_deleted(corp):
    corp.add_customer(
        CORP_ID, external_userid="wmOOO0001", name="赵女士", follows=[{"userid": "amy"}]
    )
    added_at = corp.now()
    corp.advance_clock(30)
    corp.customer_deletes_member(CORP_ID, "wmOOO0001", "amy")
    deleted_at = corp.now()
    with schema_context("alpha"):
        # when the delete is processed before the add
        deliver(corp, "del_follow_user", at=deleted_at, UserID="amy", ExternalUserID="wmOOO0001")
        deliver(corp, "add_external_contact", at=added_at, UserID="amy", ExternalUserID="wmOOO0001")

        # then the relation is deleted, and its history reads in the right order
        final = relation("amy", "wmOOO0001")
        assert final.status == Relation.Status.DELETED_BY_CUSTOMER
        assert int(final.added_at.timestamp()) == added_at
        assert timeline("wmOOO0001") == ["added", "deleted_by_customer"]


def test_a_stale_delete_does_not_undo_a_later_re_add(corp):
    corp.add_customer(CORP_ID, external_userid="wmOOO0002", follows=[{"userid": "amy"}])
    corp.advance_clock(10)
    corp.customer_deletes_member(CORP_ID, "wmOOO0002", "amy")
    deleted_at = corp.now()
    corp.advance_clock(10)
    way = _contact_way("amy")
    corp.scan(CORP_ID, way, external_userid="wmOOO0002", userid="amy")
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmOOO0002")
        deliver(corp, "del_follow_user", at=deleted_at, UserID="amy", ExternalUserID="wmOOO0002")

        assert relation("amy", "wmOOO0002").status == Relation.Status.ACTIVE


def _contact_way(userid: str) -> str:
    from scrm.wecom.client import wecom_client

    with schema_context("alpha"):
        return wecom_client().post(
            "externalcontact/add_contact_way", data={"type": 2, "scene": 2, "user": [userid]}
        )["config_id"]


def test_transfer_fail_is_on_the_timeline(corp):
    corp.add_customer(CORP_ID, external_userid="wmTF0001", follows=[{"userid": "amy"}])
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmTF0001")

        deliver(
            corp,
            "transfer_fail",
            UserID="bob",
            ExternalUserID="wmTF0001",
            FailReason="customer_refused",
        )

        event = CustomerEvent.objects.get(kind="transfer_failed")
        assert event.data == {"reason": "customer_refused", "takeover_userid": "bob"}


def test_member_events_create_rename_update_and_depart_guides(corp):
    corp.add_member(CORP_ID, "cat", name="Cat", department=[2], notify=False)
    with schema_context("alpha"):
        deliver(corp, "create_user", event="change_contact", UserID="cat")
        cat = Guide.objects.get(userid="cat")
        assert cat.name == "Cat"

        corp.rename_member(CORP_ID, "cat", "cat2026")
        deliver(corp, "update_user", event="change_contact", UserID="cat", NewUserID="cat2026")
        corp.update_member(CORP_ID, "cat2026", name="Catherine")
        deliver(corp, "update_user", event="change_contact", UserID="cat2026", Name="Catherine")

        cat.refresh_from_db()
        assert cat.userid == "cat2026"
        assert cat.name == "Catherine"

        corp.member_leaves(CORP_ID, "cat2026")
        deliver(corp, "delete_user", event="change_contact", UserID="cat2026")

        cat.refresh_from_db()
        assert cat.status == Guide.Status.DEPARTED
        assert cat.departed_at is not None


def test_group_chat_events_keep_chats_current(corp):
    corp.add_customer(CORP_ID, external_userid="wmCHAT0001", follows=[{"userid": "amy"}])
    chat = corp.create_group_chat(CORP_ID, owner="amy", name="会员群", members=["bob"])
    chat_id = chat["chat_id"]
    with schema_context("alpha"):
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmCHAT0001")
        deliver(corp, "create", event="change_external_chat", ChatId=chat_id)
        stored = GroupChat.objects.get(chat_id=chat_id)
        assert stored.name == "会员群"
        assert stored.member_count == 2

        corp.change_group_members(CORP_ID, chat_id, add_external_userids=["wmCHAT0001"])
        deliver(
            corp, "update", event="change_external_chat", ChatId=chat_id, UpdateDetail="add_member"
        )
        stored.refresh_from_db()
        assert stored.customer_count == 1
        assert stored.members.get(kind=2).customer.external_userid == "wmCHAT0001"

        deliver(corp, "dismiss", event="change_external_chat", ChatId=chat_id)
        stored.refresh_from_db()
        assert stored.status == GroupChat.Status.DISMISSED


def test_deletion_alert_tells_the_store_manager_once(corp, django_capture_on_commit_callbacks):
    corp.add_member(CORP_ID, "boss", name="店长", department=[2], notify=False)
    corp.add_customer(
        CORP_ID, external_userid="wmALERT001", name="钱女士", follows=[{"userid": "amy"}]
    )
    with schema_context("alpha"):
        store = Store.objects.get(department_id=2)
        store.managers.add(Guide.objects.create(userid="boss", name="店长", store=store))
        deliver(corp, "add_external_contact", UserID="amy", ExternalUserID="wmALERT001")
        corp.customer_deletes_member(CORP_ID, "wmALERT001", "amy")

        with django_capture_on_commit_callbacks() as queued:
            deliver(corp, "del_follow_user", UserID="amy", ExternalUserID="wmALERT001")
            deliver(
                corp,
                "del_follow_user",
                at=corp.now() + 9,
                UserID="amy",
                ExternalUserID="wmALERT001",
            )

        gone = relation("amy", "wmALERT001")
        alert = deletion_alert_compose(relation=gone)
        assert alert is not None
        recipients, text = alert
        assert recipients == ["boss"]
        assert "钱女士" in text
        assert "Amy" in text
        assert "静安店" in text
        # two stored events queue their processing; only the first deletion queues an alert
        assert len(queued) == 3


def test_no_alert_when_alerts_are_off_or_for_guide_deletes_when_excluded(corp):
    from contacts.services import contact_settings_get

    with schema_context("alpha"):
        guide = Guide.objects.get(userid="amy")
        store = guide.store
        store.managers.add(Guide.objects.create(userid="boss", name="店长", store=store))
        gone = Relation.objects.create(
            guide=guide,
            customer=Customer.objects.create(external_userid="wmALERT002"),
            added_at=timezone.now(),
            status=Relation.Status.DELETED_BY_GUIDE,
        )
        settings_row = contact_settings_get()
        assert deletion_alert_compose(relation=gone) is not None

        settings_row.alert_on_guide_deletes = False
        settings_row.save()
        assert deletion_alert_compose(relation=gone) is None

        settings_row.alert_on_guide_deletes = True
        settings_row.deletion_alert_mode = "off"
        settings_row.save()
        assert deletion_alert_compose(relation=gone) is None
