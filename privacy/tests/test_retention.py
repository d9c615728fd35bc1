"""Retention (保留期限) with a moved clock: rows are dated in the past, never slept for."""

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from contacts.models import Customer, CustomerEvent, Guide, Relation
from privacy.erasure import ERASED_ACTION
from privacy.models import PrivacySettings
from privacy.retention import retention_run
from privacy.services import privacy_settings_update
from privacy.tasks import privacy_retention_task
from scrm.celery import app
from scrm.wecom.models import CallbackEvent

S = Relation.Status


def ago(**delta):
    return timezone.now() - timedelta(**delta)


def callback(n: int, *, days: float, status: str = "done") -> CallbackEvent:
    event = CallbackEvent.objects.create(
        app_kind="customer_contact",
        dedupe_key=f"retention-{n}",
        event="change_external_contact",
        change_type="edit_external_contact",
        payload={"ExternalUserID": f"wmRET{n:04d}", "UserID": "amy"},
        raw_xml=f"<xml><ExternalUserID>wmRET{n:04d}</ExternalUserID></xml>",
        status=status,
    )
    CallbackEvent.objects.filter(pk=event.pk).update(received_at=ago(days=days))
    return event


def raw_of(event: CallbackEvent) -> tuple[str, dict]:
    event.refresh_from_db()
    return event.raw_xml, event.payload


def test_finished_callbacks_lose_their_raw_payload_after_the_period(alpha):
    old_done = callback(1, days=31)
    old_failed = callback(2, days=40, status="failed")
    stuck = callback(3, days=35, status="retrying")
    old_after_stuck = callback(4, days=33)
    recent = callback(5, days=29)

    result = retention_run()

    assert result.callbacks_cleared == 3
    assert raw_of(old_done) == ("", {})
    assert raw_of(old_failed) == ("", {})
    assert raw_of(old_after_stuck) == ("", {})
    assert raw_of(stuck)[1] == {"ExternalUserID": "wmRET0003", "UserID": "amy"}
    assert raw_of(recent)[0].startswith("<xml>")
    # the rows stay for the callback list, with what they were
    assert CallbackEvent.objects.count() == 5
    old_done.refresh_from_db()
    assert (old_done.event, old_done.change_type, old_done.status) == (
        "change_external_contact",
        "edit_external_contact",
        "done",
    )
    # the unfinished one holds the watermark back: once it is finished, it is cleared too
    assert PrivacySettings.objects.get().callbacks_checked_id == old_failed.pk
    CallbackEvent.objects.filter(pk=stuck.pk).update(status="done")
    assert retention_run().callbacks_cleared == 1
    assert raw_of(stuck) == ("", {})
    assert PrivacySettings.objects.get().callbacks_checked_id == old_after_stuck.pk


def test_the_callback_period_is_the_tenants(alpha):
    event = callback(1, days=10)
    privacy_settings_update(actor=None, callback_retention_days=7)

    retention_run()

    assert raw_of(event) == ("", {})


def ended_relation(customer: Customer, guide: Guide, *, days: int, remark: str) -> Relation:
    relation = Relation.objects.create(
        guide=guide,
        customer=customer,
        remark=remark,
        description="老顾客",
        remark_mobiles=["13800138000"],
        added_at=ago(days=days + 100),
        status=S.DELETED_BY_CUSTOMER,
        status_changed_at=ago(days=days),
        deleted_at=ago(days=days),
    )
    CustomerEvent.objects.create(
        customer=customer,
        guide=guide,
        kind="edited",
        occurred_at=ago(days=days + 1),
        data={"remark": remark, "remark_mobiles": ["13800138000"]},
    )
    return relation


def test_relations_ended_past_the_period_lose_their_personal_fields(alpha):
    amy = Guide.objects.create(userid="amy", name="Amy")
    bob = Guide.objects.create(userid="bob", name="Bob")
    gone = Customer.objects.create(external_userid="wmGONE", name="走了的客户")
    staying = Customer.objects.create(external_userid="wmSTAY", name="还在的客户")
    recent = Customer.objects.create(external_userid="wmRECENT", name="刚走的客户")
    gone_relation = ended_relation(gone, amy, days=400, remark="走了")
    staying_old = ended_relation(staying, amy, days=400, remark="以前的")
    Relation.objects.create(
        guide=bob, customer=staying, remark="现在的", added_at=ago(days=20), status=S.ACTIVE
    )
    recent_relation = ended_relation(recent, amy, days=100, remark="刚走")

    result = retention_run()

    # the relations ended 400 days ago lost their remark, description and phones
    for relation in (gone_relation, staying_old):
        relation.refresh_from_db()
        assert (relation.remark, relation.description, relation.remark_mobiles) == ("", "", [])
        assert relation.status == S.DELETED_BY_CUSTOMER  # what counts stays
    assert not CustomerEvent.objects.filter(customer=staying, data__remark="以前的").exists()
    # the customer with nothing left inside the period is erased entirely, by "retention"
    gone.refresh_from_db()
    assert gone.external_userid.startswith("erased_")
    assert gone.name == ""
    [entry] = AuditLogEntry.objects.filter(action=ERASED_ACTION)
    assert (entry.actor_label, entry.target_id) == ("retention", str(gone.pk))
    assert entry.detail["external_userid"] == "wmGONE"
    assert entry.detail["reason"] == "retention"
    # a customer still held by a guide keeps their row and the active relation's remark
    staying.refresh_from_db()
    assert staying.name == "还在的客户"
    assert Relation.objects.get(customer=staying, guide=bob).remark == "现在的"
    # a relation ended 100 days ago is inside the period
    recent_relation.refresh_from_db()
    assert recent_relation.remark == "刚走"
    assert (result.relations_cleared, result.customers_erased) == (2, 1)
    stats = PrivacySettings.objects.get().retention_stats
    assert (stats["relations_cleared"], stats["customers_erased"]) == (2, 1)

    # a shorter period reaches the recent one on the next daily run
    privacy_settings_update(actor=None, relation_retention_days=90)
    again = retention_run(now=timezone.now() + timedelta(days=1))

    recent.refresh_from_db()
    assert recent.external_userid.startswith("erased_")
    assert (again.relations_cleared, again.customers_erased) == (1, 1)


def test_a_customer_whose_last_relation_expires_later_is_erased_then(alpha):
    amy = Guide.objects.create(userid="amy", name="Amy")
    bob = Guide.objects.create(userid="bob", name="Bob")
    customer = Customer.objects.create(external_userid="wmLATER", name="后来")
    ended_relation(customer, amy, days=400, remark="早")
    ended_relation(customer, bob, days=300, remark="晚")
    now = timezone.now()

    first = retention_run(now=now)
    customer.refresh_from_db()
    assert (first.relations_cleared, first.customers_erased) == (1, 0)
    assert customer.name == "后来"

    # 70 days later the second relation is past the period too
    later = retention_run(now=now + timedelta(days=70))
    customer.refresh_from_db()
    assert (later.relations_cleared, later.customers_erased) == (1, 1)
    assert customer.name == ""


def test_big_tables_are_walked_in_batches(alpha):
    amy = Guide.objects.create(userid="amy", name="Amy")
    customers = [
        Customer.objects.create(external_userid=f"wmBATCH{n:03d}", name=f"批{n}") for n in range(7)
    ]
    for customer in customers:
        ended_relation(customer, amy, days=400, remark=customer.name)
    events = [callback(n, days=40) for n in range(7)]

    result = retention_run(batch=2)

    assert (result.callbacks_cleared, result.relations_cleared, result.customers_erased) == (
        7,
        7,
        7,
    )
    assert all(raw_of(event) == ("", {}) for event in events)
    assert not Customer.objects.filter(name__startswith="批").exists()
    assert AuditLogEntry.objects.filter(action=ERASED_ACTION, actor_label="retention").count() == 7


def test_the_daily_job_runs_per_tenant_from_beat(alpha):
    event = callback(1, days=40)

    done = privacy_retention_task(tenant_schema="alpha")

    assert done["callbacks_cleared"] == 1
    with schema_context("alpha"):  # the task switched schemas itself
        assert raw_of(event) == ("", {})
    entry = app.conf.beat_schedule["privacy-retention"]
    assert entry["task"] == "scrm.tenant_tasks.fan_out_to_tenants"
    assert entry["kwargs"] == {"task_name": "privacy.tasks.privacy_retention_task"}
