from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.tests.factories import UserFactory
from scrm.wecom.models import CallbackEvent


def make_event(n: int, **fields) -> CallbackEvent:
    defaults = {
        "app_kind": "customer_contact",
        "dedupe_key": f"k{n}",
        "event": "change_external_contact",
        "change_type": "add_external_contact",
        "raw_xml": "<xml/>",
    }
    return CallbackEvent.objects.create(**{**defaults, **fields})


def login(client, role="operator"):
    with schema_context("alpha"):
        client.force_login(UserFactory(role=role))


def test_events_page_lists_events_with_constant_queries(db, client_a, django_assert_num_queries):
    login(client_a)
    with schema_context("alpha"):
        for n in range(30):
            make_event(n)
        make_event(99, status="failed", last_error="handler x: boom", errcode=84061)

    with django_assert_num_queries(7):
        response = client_a.get("/wecom/events/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "errcode 84061" in body
    assert body.count("add_external_contact") == 31


def test_operator_retries_a_failed_event(db, client_a, django_capture_on_commit_callbacks):
    login(client_a)
    with schema_context("alpha"):
        event = make_event(1, status="failed", attempts=6)

    with django_capture_on_commit_callbacks() as queued:
        response = client_a.post(f"/wecom/events/{event.pk}/retry/", follow=True)

    assert "已重新排队" in response.content.decode()
    assert len(queued) == 1
    with schema_context("alpha"):
        event.refresh_from_db()
        assert event.status == "retrying"
        assert event.attempts == 0


def test_done_or_fresh_events_cannot_be_retried(db, client_a):
    login(client_a)
    with schema_context("alpha"):
        done = make_event(1, status="done")
        busy = make_event(2, status="processing", claimed_at=timezone.now())
        stuck = make_event(
            3, status="processing", claimed_at=timezone.now() - timedelta(minutes=30)
        )

    for event in (done, busy):
        response = client_a.post(f"/wecom/events/{event.pk}/retry/", follow=True)
        assert "不能重试" in response.content.decode()
    client_a.post(f"/wecom/events/{stuck.pk}/retry/")
    with schema_context("alpha"):
        stuck.refresh_from_db()
        assert stuck.status == "retrying"


def test_viewer_cannot_see_events(db, client_a):
    login(client_a, role="viewer")
    assert client_a.get("/wecom/events/").status_code == 403
