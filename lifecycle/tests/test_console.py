"""Lifecycle pages: the rules with a preview, saving them (audited, recomputed in the
background), each stage's customers, and the stage on the customer page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from contacts.models import Relation
from contacts.tests.factories import CustomerFactory, RelationFactory
from handover.tests.test_console import body_of, in_english, login, text_of
from lifecycle.models import CustomerStage, LifecycleSettings
from lifecycle.stages import customer_stages_recompute
from lifecycle.tasks import customer_stages_recompute_task


def page_text(response) -> str:
    return text_of(body_of(response))


@pytest.fixture
def customers(db, tenant_a):
    """Three friends added 2, 20 and 40 days ago, and one lost customer."""
    with schema_context("alpha"):
        made = []
        for days in (2, 20, 40):
            made.append(CustomerFactory(name=f"客户{days}"))
            RelationFactory(customer=made[-1], added_at=timezone.now() - timedelta(days=days))
        lost = CustomerFactory(name="走了的客户")
        RelationFactory(
            customer=lost,
            added_at=timezone.now() - timedelta(days=90),
            status=Relation.Status.DELETED_BY_CUSTOMER,
            deleted_at=timezone.now() - timedelta(days=1),
        )
        customer_stages_recompute()
        return [*made, lost]


def test_the_page_shows_the_counts_and_the_rules(customers, client_a):
    login(client_a, "viewer")
    in_english(client_a)

    text = page_text(client_a.get("/lifecycle/"))

    assert "New 1 Engaged 0 First order 0 Repeat buyer 0 Dormant 2 Lost 1" in text
    assert "first added by a guide in the last 7 days." in text
    assert "two or more paid orders in the last 180 days." in text
    assert "Last recomputed at" in text
    assert "Only admins and operators change these rules." in text


def test_a_viewer_cannot_change_the_rules(customers, client_a):
    login(client_a, "viewer")

    response = client_a.post("/lifecycle/", {"new_days": 30, "engaged_days": 30, "order_days": 180})

    assert response.status_code == 403
    with schema_context("alpha"):
        assert LifecycleSettings.objects.get().new_days == 7


def test_the_preview_shows_what_the_rules_would_give_without_saving(customers, client_a):
    login(client_a)
    in_english(client_a)

    text = page_text(
        client_a.post(
            "/lifecycle/",
            {"new_days": 30, "engaged_days": 30, "order_days": 180, "action": "preview"},
        )
    )

    # new 1 -> 2 (the customer added 20 days ago), dormant 2 -> 1
    assert "New 1 2 +1" in text
    assert "Dormant 2 1 -1" in text
    assert "Lost 1 1 0" in text
    with schema_context("alpha"):
        assert LifecycleSettings.objects.get().new_days == 7
        assert CustomerStage.objects.filter(stage="new").count() == 1


def test_saving_the_rules_is_audited_and_recomputes_in_the_background(
    customers, client_a, django_capture_on_commit_callbacks, monkeypatch
):
    login(client_a)
    in_english(client_a)
    queued: list[dict] = []
    monkeypatch.setattr(
        customer_stages_recompute_task, "apply_async", lambda **kwargs: queued.append(kwargs)
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(
            "/lifecycle/",
            {"new_days": 30, "engaged_days": 14, "order_days": 180, "action": "save"},
            follow=True,
        )

    assert "Lifecycle rules saved: the stages are being recomputed." in page_text(response)
    assert queued == [{"kwargs": {"tenant_schema": "alpha"}}]
    with schema_context("alpha"):
        options = LifecycleSettings.objects.get()
        assert (options.new_days, options.engaged_days) == (30, 14)
        entry = AuditLogEntry.objects.get(action="lifecycle.settings_changed")
        assert entry.detail == {
            "new_days": {"from": 7, "to": 30},
            "engaged_days": {"from": 30, "to": 14},
        }
    # the task the worker runs: the customer added 20 days ago becomes new
    customer_stages_recompute_task(tenant_schema="alpha")
    with schema_context("alpha"):
        assert CustomerStage.objects.get(customer=customers[1]).stage == "new"


def test_bad_thresholds_are_refused(customers, client_a):
    login(client_a)
    in_english(client_a)

    text = page_text(
        client_a.post("/lifecycle/", {"new_days": 0, "engaged_days": 30, "order_days": 1000})
    )

    assert "Ensure this value is greater than or equal to 1." in text
    assert "Ensure this value is less than or equal to 730." in text
    with schema_context("alpha"):
        assert LifecycleSettings.objects.get().order_days == 180


def test_a_stage_lists_its_customers(customers, client_a, django_assert_num_queries):
    login(client_a, "viewer")
    in_english(client_a)

    # routing (3), session, user, the page of stages with their customers
    with django_assert_num_queries(6):
        response = client_a.get("/lifecycle/customers/?stage=dormant")

    text = page_text(response)
    assert "客户20" in text
    assert "客户40" in text
    assert "客户2 " not in text
    assert "Unknown stage" in page_text(client_a.get("/lifecycle/customers/?stage=vip"))


def test_the_customer_page_shows_the_stage(customers, client_a):
    login(client_a, "viewer")
    in_english(client_a)
    newest, lost = customers[0], customers[3]

    assert "Lifecycle stage New since" in page_text(client_a.get(f"/customers/{newest.pk}/"))
    assert "Lifecycle stage Lost since" in page_text(client_a.get(f"/customers/{lost.pk}/"))
    with schema_context("alpha"):
        unknown = CustomerFactory()
    assert "Lifecycle stage not computed yet" in page_text(
        client_a.get(f"/customers/{unknown.pk}/")
    )
