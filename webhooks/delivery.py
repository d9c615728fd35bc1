"""Sending a delivery: claim it, POST the signed body once, record the attempt and decide
what comes next.

A delivery is claimed with a conditional UPDATE (`pending` and due, or `sending` with a lease
that ran out: its worker died) and held by a lease while the request runs; no database lock
is held across the network call. The attempt is recorded only by the worker whose lease it
is. A failed attempt is tried again after the next delay of WEBHOOK_RETRY_SCHEDULE (seconds;
about a day in all); when the schedule is used up the delivery has failed, and after
WEBHOOK_DISABLE_AFTER_FAILURES failed deliveries in a row the endpoint is disabled.

Any 2xx answer is a success. Anything else (another status, a redirect, which is never
followed, a timeout, a refused connection, a TLS error, an address the SSRF guard refuses)
is a failure, retried.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation

from webhooks.emit import tenant_schema
from webhooks.events import event_body
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.signing import signature_header
from webhooks.targets import Target, TargetRefused, target_resolve

logger = logging.getLogger(__name__)

EXCERPT_BYTES = 1024
USER_AGENT = "SCRM-Webhooks/1.0"
# A retry due within this many seconds is queued with a countdown; later ones are queued
# by the periodic job when due (a countdown held by a worker for hours would outlive the
# broker's visibility timeout and run twice).
COUNTDOWN_MAX = 300.0
CLOCK_SKEW = timedelta(seconds=1)


def retry_schedule() -> list[float]:
    return [float(seconds) for seconds in settings.WEBHOOK_RETRY_SCHEDULE]


def lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


@dataclass
class HttpResult:
    started_at: datetime
    latency_ms: int = 0
    status_code: int | None = None
    excerpt: str = ""
    failure: str = ""  # an Attempt.Failure; empty for a 2xx answer
    error: str = ""


@dataclass
class Sent:
    status: str  # the delivery's status afterwards, or why nothing was sent
    retry_in: float | None = None  # queue the task again with this countdown


def _excerpt(raw: bytes) -> str:
    """The response's first bytes as text, whatever they are (PostgreSQL text takes no NUL)."""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _pool(target: Target, address: str, timeout: float) -> urllib3.HTTPConnectionPool:
    """A one-off connection to an address that was checked (never resolved again), with the
    URL's host name for TLS (SNI and the certificate check)."""
    options = {
        "host": address,
        "port": target.port,
        "timeout": urllib3.Timeout(total=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if target.https:
        return urllib3.HTTPSConnectionPool(
            **options,  # type: ignore[arg-type]
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
        )
    return urllib3.HTTPConnectionPool(**options)  # type: ignore[arg-type]


def _urlopen(
    target: Target, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[urllib3.HTTPConnectionPool, urllib3.BaseHTTPResponse]:
    """POST to the checked addresses in turn until one takes the connection (a host whose
    IPv6 address this machine cannot reach still gets it over IPv4)."""
    for index, address in enumerate(target.addresses):
        pool = _pool(target, address, timeout)
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Host": target.host_header},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.NewConnectionError:
            pool.close()
            if index == len(target.addresses) - 1:
                raise
            continue
        except BaseException:
            pool.close()
            raise
        return pool, response
    raise OSError("the host has no address")


def _failure_of(exc: Exception) -> str:
    from urllib3 import exceptions

    if isinstance(exc, exceptions.SSLError):
        return Attempt.Failure.TLS
    if isinstance(exc, exceptions.NewConnectionError):  # a ConnectTimeoutError subclass too
        return Attempt.Failure.CONNECTION
    if isinstance(exc, exceptions.TimeoutError | TimeoutError):
        return Attempt.Failure.TIMEOUT
    return Attempt.Failure.CONNECTION


def http_post(target: Target, body: bytes, headers: dict[str, str]) -> HttpResult:
    """POST once; never raises for what the network or the receiver does."""
    timeout = float(settings.WEBHOOK_TIMEOUT_SECONDS)
    result = HttpResult(started_at=timezone.now())
    started = time.monotonic()
    pool = None
    try:
        pool, response = _urlopen(target, body, headers, timeout)
        result.status_code = response.status
        try:
            result.excerpt = _excerpt(response.read(EXCERPT_BYTES))
        except (urllib3.exceptions.HTTPError, OSError):
            pass  # the status is what counts; the body is only shown
        finally:
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        result.failure = _failure_of(exc)
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        if pool is not None:
            pool.close()
    result.latency_ms = int((time.monotonic() - started) * 1000)
    if result.status_code is not None and not 200 <= result.status_code < 300:
        result.failure = Attempt.Failure.HTTP
        result.error = f"HTTP {result.status_code}"
    return result


def delivery_claim(*, delivery_id: int) -> Delivery | None:
    """Take a delivery that is due, or whose worker died; None when it is not to be sent
    now (sent already, not due, or held by a live worker)."""
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id)
        .filter(
            Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now + CLOCK_SKEW)
            | Q(status=Delivery.Status.SENDING, lease_until__lt=now)
        )
        .update(status=Delivery.Status.SENDING, lease_until=now + lease())
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)


def delivery_headers(delivery: Delivery, body: bytes) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-SCRM-Event": delivery.event.type,
        "X-SCRM-Event-Id": delivery.event.public_id,
        "X-SCRM-Delivery": str(delivery.pk),
        "X-SCRM-Timestamp": str(timestamp),
        "X-SCRM-Signature": signature_header(delivery.endpoint.signing_secrets(), timestamp, body),
    }


def delivery_send(*, delivery_id: int) -> Sent:
    """One attempt of a delivery, if it is due. Returns its status afterwards and, for a
    retry due soon, the countdown to queue it with."""
    delivery = delivery_claim(delivery_id=delivery_id)
    if delivery is None:
        return Sent("not claimed")
    if not delivery.endpoint.is_enabled and delivery.trigger == Delivery.Trigger.EVENT:
        # Only events wait for an endpoint; a redelivery or a test is an explicit request.
        Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.CANCELLED,
            finished_at=timezone.now(),
            lease_until=None,
            last_error="endpoint disabled",
        )
        return Sent(Delivery.Status.CANCELLED)
    body = event_body(delivery.event, tenant=tenant_schema() or "")
    headers = delivery_headers(delivery, body)
    try:
        with translation.override("en"):  # the log keeps technical details in English
            target = target_resolve(delivery.endpoint.url)
    except TargetRefused as exc:
        failure = Attempt.Failure.REFUSED_TARGET if exc.address else Attempt.Failure.CONNECTION
        result = HttpResult(started_at=timezone.now(), failure=failure, error=str(exc)[:300])
    else:
        result = http_post(target, body, headers)
    return delivery_record(delivery=delivery, result=result)


def delivery_record(*, delivery: Delivery, result: HttpResult) -> Sent:
    """Save the attempt and the delivery's next step, if the lease is still ours."""
    number = delivery.attempts + 1
    schedule = retry_schedule()
    now = timezone.now()
    fields: dict[str, object] = {
        "attempts": number,
        "lease_until": None,
        "last_status_code": result.status_code,
        "last_error": result.error,
    }
    retry_in = None
    if not result.failure:
        fields.update(status=Delivery.Status.SUCCEEDED, finished_at=now, next_attempt_at=None)
    elif number <= len(schedule):
        retry_in = schedule[number - 1]
        due = now + timedelta(seconds=retry_in)
        soon = retry_in <= COUNTDOWN_MAX
        fields.update(status=Delivery.Status.PENDING, next_attempt_at=due)
        fields["queued_at"] = due if soon else None
        if not soon:
            retry_in = None
    else:
        fields.update(status=Delivery.Status.FAILED, finished_at=now, next_attempt_at=None)
    with transaction.atomic():
        saved = Delivery.objects.filter(
            pk=delivery.pk, status=Delivery.Status.SENDING, lease_until=delivery.lease_until
        ).update(**fields)
        if not saved:
            # Deleted meanwhile, or our lease ran out and another worker took it over.
            return Sent("superseded")
        Attempt.objects.create(
            delivery_id=delivery.pk,
            number=number,
            started_at=result.started_at,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_excerpt=result.excerpt,
            failure=result.failure,
            error=result.error,
        )
        _endpoint_note(delivery, str(fields["status"]), now)
    return Sent(str(fields["status"]), retry_in)


def _endpoint_note(delivery: Delivery, status: str, now: datetime) -> None:
    """The endpoint's health: a success clears its failures; an event's delivery that used
    up its retries counts one more, and enough in a row disable the endpoint."""
    from webhooks.services import endpoint_disable_after_failures

    endpoint = Endpoint.objects.filter(pk=delivery.endpoint_id)
    if status == Delivery.Status.SUCCEEDED:
        endpoint.update(consecutive_failures=0, last_success_at=now)
    elif status == Delivery.Status.FAILED and delivery.trigger == Delivery.Trigger.EVENT:
        endpoint.update(consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now)
        limit = int(settings.WEBHOOK_DISABLE_AFTER_FAILURES)
        if endpoint.filter(is_enabled=True, consecutive_failures__gte=limit).exists():
            endpoint_disable_after_failures(endpoint_id=delivery.endpoint_id)
    else:
        endpoint.update(last_failure_at=now)
