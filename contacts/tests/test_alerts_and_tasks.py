"""Deletion digests and the periodic contact tasks."""

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from contacts.alerts import deletion_digest_compose, deletion_digest_send
from contacts.models import CustomerEvent, SyncRun
from contacts.services import contact_settings_get
from contacts.tasks import contacts_sync_scheduled_task
from contacts.tests.factories import CustomerEventFactory, GuideFactory


def test_daily_digest_lists_the_days_deletions_for_each_manager(db, tenant_a):
    with schema_context("alpha"):
        manager = GuideFactory(name="王店长")
        amy = GuideFactory(name="Amy", store=manager.store)
        manager.store.managers.add(manager)
        now = timezone.now()
        CustomerEventFactory(
            kind=CustomerEvent.Kind.DELETED_BY_CUSTOMER,
            guide=amy,
            customer__name="周女士",
            occurred_at=now - timedelta(hours=2),
        )
        CustomerEventFactory(
            kind=CustomerEvent.Kind.DELETED_BY_GUIDE,
            guide=amy,
            customer__name="吴先生",
            occurred_at=now - timedelta(hours=1),
        )
        CustomerEventFactory(  # before the window
            kind=CustomerEvent.Kind.DELETED_BY_CUSTOMER,
            guide=amy,
            customer__name="郑先生",
            occurred_at=now - timedelta(days=3),
        )
        settings_row = contact_settings_get()

        texts, count = deletion_digest_compose(
            since=now - timedelta(days=1), until=now, settings_row=settings_row
        )

        assert count == 2
        userid = str(manager.userid)
        assert list(texts) == [userid]
        assert "周女士" in texts[userid]
        assert "吴先生" in texts[userid]
        assert "郑先生" not in texts[userid]

        settings_row.alert_on_guide_deletes = False
        texts, count = deletion_digest_compose(
            since=now - timedelta(days=1), until=now, settings_row=settings_row
        )
        assert count == 1
        assert "吴先生" not in texts[userid]


def test_digest_only_in_daily_mode_and_moves_its_window(db, tenant_a):
    with schema_context("alpha"):
        settings_row = contact_settings_get()
        assert deletion_digest_send() == 0  # immediate mode: no digest
        assert contact_settings_get().last_digest_at is None

        settings_row.deletion_alert_mode = "daily"
        settings_row.save()
        deletion_digest_send()

        assert contact_settings_get().last_digest_at is not None


def test_nightly_sync_respects_the_setting_and_never_runs_two(db, tenant_a):
    with schema_context("alpha"):
        settings_row = contact_settings_get()
        settings_row.daily_sync_enabled = False
        settings_row.save()
    assert contacts_sync_scheduled_task.run(tenant_schema="alpha") is None

    with schema_context("alpha"):
        settings_row.daily_sync_enabled = True
        settings_row.save()
    run_id = contacts_sync_scheduled_task.run(tenant_schema="alpha")
    assert run_id is not None
    assert contacts_sync_scheduled_task.run(tenant_schema="alpha") is None
    with schema_context("alpha"):
        assert SyncRun.objects.get().trigger == "schedule"
