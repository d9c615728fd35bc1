"""Delivering, attempt by attempt, to a receiver on loopback: the signed request, retries on
the (test-sized) schedule with every attempt logged, timeouts and refused connections, no
redirects, safe response excerpts, automatic disabling with its notice and audit entry,
redelivery, a worker that died mid-delivery, and retention."""

import json
import socket
import ssl
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from webhooks.delivery import delivery_claim, delivery_send, http_post
from webhooks.emit import Occurrence, events_emit
from webhooks.models import Attempt, Delivery, Endpoint, Event
from webhooks.services import (
    deliveries_requeue,
    delivery_redeliver,
    endpoint_enable,
    endpoint_secret_rotate,
    endpoint_test,
    events_prune,
    notice_get,
)
from webhooks.targets import target_resolve
from webhooks.tests.helpers import Receiver, make_endpoint, signature_is_valid

TINY = override_settings(WEBHOOK_RETRY_SCHEDULE=[0, 0, 0, 0])


@pytest.fixture
def alpha(db, tenant_a):
    with schema_context("alpha"):
        yield


def emit_one(data: dict | None = None) -> Delivery:
    """A customer.added event for the tenant's endpoints; its (first) delivery."""
    events_emit(
        "customer.added",
        lambda: [Occurrence(occurred_at=timezone.now(), data=data or {"customer": {"id": 1}})],
    )
    return Delivery.objects.order_by("-id")[0]


def send_until_final(delivery: Delivery, *, limit: int = 20) -> Delivery:
    for _ in range(limit):
        delivery_send(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        if delivery.status in Delivery.FINAL:
            return delivery
    raise AssertionError(f"still {delivery.status}")


def test_the_receiver_gets_the_signed_event_with_its_headers(alpha):
    with Receiver() as receiver:
        endpoint, secret = make_endpoint(receiver.url, ["customer.added"])
        delivery = emit_one({"customer": {"external_userid": "wm孙"}})

        sent = delivery_send(delivery_id=delivery.pk)

    assert sent.status == Delivery.Status.SUCCEEDED
    [request] = receiver.requests
    assert request.path == "/hooks/scrm"
    assert signature_is_valid(request, secret)
    assert not signature_is_valid(request, "whsec_another")
    body = json.loads(request.body)
    event = delivery.event
    assert body == {
        "id": event.public_id,
        "type": "customer.added",
        "occurred_at": timezone.localtime(event.occurred_at).isoformat(),
        "tenant": "alpha",
        "data": {"customer": {"external_userid": "wm孙"}},
    }
    assert request.headers["X-SCRM-Event"] == "customer.added"
    assert request.headers["X-SCRM-Event-Id"] == event.public_id
    assert request.headers["X-SCRM-Delivery"] == str(delivery.pk)
    assert abs(int(request.headers["X-SCRM-Timestamp"]) - time.time()) < 10
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    delivery.refresh_from_db()
    [attempt] = delivery.attempt_log.all()
    assert (attempt.status_code, attempt.failure, attempt.response_excerpt) == (
        200,
        "",
        '{"ok":true}',
    )
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None


@TINY
def test_a_receiver_failing_three_times_gets_the_event_once_more_and_the_log_shows_four(alpha):
    with Receiver([500, 500, 500]) as receiver:
        _endpoint, secret = make_endpoint(receiver.url, ["customer.added"])
        delivery = send_until_final(emit_one())

    assert [r.status for r in receiver.requests] == [500, 500, 500, 200]
    assert all(signature_is_valid(r, secret) for r in receiver.requests)
    assert len({r.body for r in receiver.requests}) == 1  # the same body every time
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert delivery.attempts == 4
    log = [(a.number, a.status_code, a.failure) for a in delivery.attempt_log.all()]
    assert log == [(1, 500, "http"), (2, 500, "http"), (3, 500, "http"), (4, 200, "")]


def test_retries_follow_the_schedule(alpha):
    with Receiver(default=503) as receiver, override_settings(WEBHOOK_RETRY_SCHEDULE=[30, 3600]):
        make_endpoint(receiver.url, ["customer.added"])
        delivery = emit_one()

        first = delivery_send(delivery_id=delivery.pk)
        assert first.retry_in == 30  # soon: queued with a countdown
        assert delivery_send(delivery_id=delivery.pk).status == "not claimed"  # not due yet
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        second = delivery_send(delivery_id=delivery.pk)
        assert second.retry_in is None  # an hour: the periodic job queues it when due
        delivery.refresh_from_db()
        assert delivery.next_attempt_at is not None
        assert delivery.next_attempt_at - timezone.now() > timedelta(minutes=59)
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        third = delivery_send(delivery_id=delivery.pk)

    assert third.status == Delivery.Status.FAILED
    assert len(receiver.requests) == 3


@override_settings(WEBHOOK_TIMEOUT_SECONDS=0.5, WEBHOOK_RETRY_SCHEDULE=[0])
def test_timeouts_and_refused_connections_are_logged_and_retried(alpha):
    with Receiver(delay=3) as slow:
        make_endpoint(slow.url, ["customer.added"])
        delivery = emit_one()
        started = time.monotonic()
        delivery_send(delivery_id=delivery.pk)
        assert time.monotonic() - started < 2.5
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    Endpoint.objects.update(url=f"http://127.0.0.1:{closed_port}/hook")
    delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    first, second = delivery.attempt_log.all()
    assert (first.failure, first.status_code) == ("timeout", None)
    assert first.latency_ms >= 400
    assert second.failure == "connection"
    assert "refused" in second.error.lower()
    assert delivery.status == Delivery.Status.FAILED


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(alpha):
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        target = target_resolve(receiver.url)
        # as a host with an address this machine cannot reach, then one it can
        both = replace(target, addresses=["127.0.0.2", *target.addresses])

        result = http_post(both, b"{}", {"Content-Type": "application/json"})

    assert (result.status_code, result.failure) == (200, "")
    assert receiver.requests[0].headers["Host"] == f"127.0.0.1:{port}"


def test_https_checks_the_certificate(alpha, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    receiver = Receiver()
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    with receiver:
        port = receiver.server.server_address[1]
        make_endpoint(f"https://127.0.0.1:{port}/hook", ["customer.added"])
        delivery = emit_one()
        delivery_send(delivery_id=delivery.pk)

    [attempt] = Attempt.objects.filter(delivery=delivery)
    assert attempt.failure == "tls"  # a self-signed certificate is not trusted
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
    assert receiver.requests == []


def test_redirects_are_not_followed(alpha):
    with Receiver([302], extra_headers={"Location": "http://127.0.0.1:1/elsewhere"}) as receiver:
        make_endpoint(receiver.url, ["customer.added"])
        delivery = emit_one()
        delivery_send(delivery_id=delivery.pk)

    assert len(receiver.requests) == 1
    [attempt] = Attempt.objects.filter(delivery=delivery)
    assert (attempt.status_code, attempt.failure) == (302, "http")


def test_the_response_excerpt_is_the_first_kilobyte_as_safe_text(alpha):
    reply = b"\xff\xfe\x00bad bytes " + "好".encode() * 600
    with Receiver(reply=reply) as receiver:
        make_endpoint(receiver.url, ["customer.added"])
        delivery = emit_one()
        delivery_send(delivery_id=delivery.pk)

    excerpt = Attempt.objects.get(delivery=delivery).response_excerpt
    assert excerpt.startswith("\ufffd\ufffd\ufffdbad bytes 好")
    assert "\x00" not in excerpt
    assert len(excerpt.encode()) <= 1024 + 6


@TINY
@override_settings(WEBHOOK_DISABLE_AFTER_FAILURES=2)
def test_an_endpoint_failing_delivery_after_delivery_is_disabled_with_a_notice(
    alpha, django_capture_on_commit_callbacks
):
    with Receiver(default=500) as receiver:
        endpoint, _ = make_endpoint(receiver.url, ["customer.added"])
        first, second, waiting = emit_one(), emit_one(), emit_one()
        send_until_final(first)
        endpoint.refresh_from_db()
        assert endpoint.is_enabled
        assert endpoint.consecutive_failures == 1
        with django_capture_on_commit_callbacks(execute=True):
            send_until_final(second)

    endpoint.refresh_from_db()
    assert not endpoint.is_enabled
    assert endpoint.disabled_by == Endpoint.DisabledBy.FAILURES
    waiting.refresh_from_db()
    assert waiting.status == Delivery.Status.CANCELLED  # not sent to a disabled endpoint
    entry = AuditLogEntry.objects.get(action="webhook.disabled")
    assert entry.detail["by"] == "failures"
    assert entry.actor_label == "system"
    assert [n["id"] for n in notice_get()] == [endpoint.pk]
    # new events are no longer kept for it
    assert emit_one() == waiting

    with django_capture_on_commit_callbacks(execute=True):
        endpoint_enable(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.is_enabled
    assert endpoint.consecutive_failures == 0
    assert notice_get() == []


def test_a_success_clears_the_failures_in_a_row(alpha):
    with Receiver([500], default=200) as receiver, override_settings(WEBHOOK_RETRY_SCHEDULE=[]):
        endpoint, _ = make_endpoint(receiver.url, ["customer.added"])
        send_until_final(emit_one())
        endpoint.refresh_from_db()
        assert endpoint.consecutive_failures == 1
        send_until_final(emit_one())
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_redelivery_sends_the_same_event_again_as_a_new_delivery(alpha):
    with Receiver() as receiver:
        _endpoint, secret = make_endpoint(receiver.url, ["customer.added"])
        original = send_until_final(emit_one())
        again = delivery_redeliver(delivery=original)
        send_until_final(again)

    first, second = receiver.requests
    assert json.loads(first.body) == json.loads(second.body)
    assert first.headers["X-SCRM-Event-Id"] == second.headers["X-SCRM-Event-Id"]
    assert first.headers["X-SCRM-Delivery"] != second.headers["X-SCRM-Delivery"]
    assert signature_is_valid(second, secret)
    again.refresh_from_db()
    assert (again.trigger, again.redelivery_of_id, again.status) == (
        "redelivery",
        original.pk,
        "succeeded",
    )
    assert AuditLogEntry.objects.filter(action="webhook.redelivered").count() == 1


def test_a_test_event_and_a_rotated_secret(alpha):
    with Receiver() as receiver:
        endpoint, old = make_endpoint(receiver.url, ["customer.added"])
        new = endpoint_secret_rotate(endpoint=endpoint)
        send_until_final(endpoint_test(endpoint=endpoint))
        newest = endpoint_secret_rotate(endpoint=endpoint, keep_previous=False)
        send_until_final(endpoint_test(endpoint=endpoint))

    during, after = receiver.requests
    assert json.loads(during.body)["type"] == "webhook.test"
    # during the grace period both secrets sign; after an immediate rotation only the new one
    assert signature_is_valid(during, old)
    assert signature_is_valid(during, new)
    assert during.headers["X-SCRM-Signature"].count("v1=") == 2
    assert signature_is_valid(after, newest)
    assert not signature_is_valid(after, new)


def test_a_delivery_whose_worker_died_is_queued_again_and_delivered(
    alpha, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        make_endpoint(receiver.url, ["customer.added"])
        delivery = emit_one()
        assert delivery_claim(delivery_id=delivery.pk) is not None  # a worker took it, died

        assert deliveries_requeue() == 0  # its lease still holds: nobody steals it
        assert delivery_send(delivery_id=delivery.pk).status == "not claimed"
        # three minutes later, the lease has run out
        Delivery.objects.filter(pk=delivery.pk).update(
            queued_at=timezone.now() - timedelta(minutes=3),
            lease_until=timezone.now() - timedelta(minutes=1),
        )
        with django_capture_on_commit_callbacks() as queued:
            assert deliveries_requeue() == 1
        assert len(queued) == 1
        assert delivery_send(delivery_id=delivery.pk).status == Delivery.Status.SUCCEEDED

    assert len(receiver.requests) == 1


def test_a_late_worker_does_not_record_over_the_one_that_took_over(alpha):
    with Receiver() as receiver:
        make_endpoint(receiver.url, ["customer.added"])
        delivery = emit_one()
        stale = delivery_claim(delivery_id=delivery.pk)
        assert stale is not None
        Delivery.objects.filter(pk=delivery.pk).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
        assert delivery_send(delivery_id=delivery.pk).status == Delivery.Status.SUCCEEDED

        from webhooks.delivery import HttpResult, delivery_record

        late = delivery_record(
            delivery=stale, result=HttpResult(started_at=timezone.now(), failure="timeout")
        )

    assert late.status == "superseded"
    assert Attempt.objects.filter(delivery=delivery).count() == 1


def test_due_retries_are_queued_by_the_periodic_job_once(alpha, django_capture_on_commit_callbacks):
    make_endpoint("http://127.0.0.1:9/hook", ["customer.added"])
    delivery = emit_one()
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=5), queued_at=None
    )

    with django_capture_on_commit_callbacks() as queued:
        assert deliveries_requeue() == 1
        assert deliveries_requeue() == 0  # queued a moment ago
    assert len(queued) == 1


def test_retention_prunes_old_finished_events_with_their_log(alpha):
    with Receiver() as receiver:
        make_endpoint(receiver.url, ["customer.added"])
        old_done = send_until_final(emit_one())
        old_pending = emit_one()
        recent = send_until_final(emit_one())
    Event.objects.filter(pk__in=[old_done.event_id, old_pending.event_id]).update(
        created_at=timezone.now() - timedelta(days=31)
    )

    assert events_prune() == 1

    assert not Event.objects.filter(pk=old_done.event_id).exists()
    assert not Attempt.objects.filter(delivery_id=old_done.pk).exists()
    assert Event.objects.filter(pk=old_pending.event_id).exists()  # still to deliver
    assert Delivery.objects.filter(pk=recent.pk).exists()
