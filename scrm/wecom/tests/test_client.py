"""The WeCom client against the running sandbox, over HTTP (no mocks of our client)."""

import logging
import threading
import time

import pytest
import requests
from django_tenants.utils import schema_context

from scrm.wecom.client import wecom_client
from scrm.wecom.errors import (
    WeComPermanentError,
    WeComRateLimited,
    WeComTransientError,
)
from scrm.wecom.tests.sandbox_setup import SECRET, connect_to_sandbox

CORP_ID = "wwclienttest0001"
API = "externalcontact/get_follow_user_list"


@pytest.fixture
def sandbox(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    yield wecom_sandbox
    wecom_sandbox.control.clear_faults()
    wecom_sandbox.control.set_limits(defaults=True)


def client(**kwargs):
    with schema_context("alpha"):
        return wecom_client(**kwargs)


def test_token_is_fetched_once_cached_and_refreshed_after_expiry(sandbox):
    wecom = client()
    guides = wecom.external_contact.get_follow_user_list()
    assert guides["follow_user"] == []
    first_token = wecom.tokens.cached()
    assert first_token

    # the cached token serves later calls and later clients
    client().external_contact.get_follow_user_list()
    assert client().tokens.cached() == first_token
    assert sandbox.control.stats()["tokens"] == 1

    # when WeCom's 2 hours pass, the rejected token (42001) is refreshed once and the call works
    sandbox.control.advance_clock(7300)
    assert client().external_contact.get_follow_user_list()["errcode"] == 0
    assert client().tokens.cached() != first_token


def test_twenty_workers_refresh_the_token_once(sandbox):
    barrier = threading.Barrier(20)
    tokens, errors = [], []
    clients = [client() for _ in range(20)]  # one per worker, as 20 processes would have

    def worker(wecom):
        try:
            barrier.wait()
            tokens.append(wecom.tokens.get())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(wecom,)) for wecom in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(tokens)) == 1
    assert sandbox.control.stats()["tokens"] == 1


def raw_burst(sandbox, count: int) -> list[int]:
    token = requests.get(
        sandbox.api_base_url + "gettoken",
        params={"corpid": CORP_ID, "corpsecret": SECRET},
        timeout=5,
    ).json()["access_token"]
    return [
        requests.get(sandbox.api_base_url + API, params={"access_token": token}, timeout=5).json()[
            "errcode"
        ]
        for _ in range(count)
    ]


def test_limiter_spreads_a_burst_that_exceeds_wecoms_window(sandbox):
    # given WeCom allows 5 calls per second per API
    sandbox.control.set_limits(per_corp={"limit": 5, "window_seconds": 1})
    # and a burst of 12 sent straight at it really exceeds that
    assert 45009 in raw_burst(sandbox, 12)
    time.sleep(1.1)

    # when the same burst goes through our client with the same limits configured
    with schema_context("public"):
        from tenants.models import WeComCorp

        WeComCorp.objects.filter(corp_id=CORP_ID).update(rate_limits={"per_corp": [[5, 1]]})
    wecom = client(max_wait=30)
    started = time.monotonic()
    results = [wecom.get(API)["errcode"] for _ in range(12)]
    elapsed = time.monotonic() - started

    # then every call succeeds (no 45009), spread over time (bulk share: 3 per second)
    assert results == [0] * 12
    assert elapsed >= 2.5


def test_welcome_calls_pass_while_bulk_is_throttled(sandbox):
    with schema_context("public"):
        from tenants.models import WeComCorp

        WeComCorp.objects.filter(corp_id=CORP_ID).update(
            rate_limits={"per_corp": [[10, 60]], "safety": 1.0, "welcome_reserve": 0.3}
        )
    bulk = client(priority="bulk")
    welcome = client(priority="welcome")

    # bulk work uses its share (7 of 10) and is then told to come back later
    for _ in range(7):
        bulk.get(API)
    with pytest.raises(WeComRateLimited) as throttled:
        bulk.get(API)
    assert throttled.value.retry_after > 0
    assert "retry at" in str(throttled.value)

    # welcome messages still get through on the reserved share, without waiting
    started = time.monotonic()
    for _ in range(3):
        assert welcome.get(API)["errcode"] == 0
    assert time.monotonic() - started < 2


def test_injected_transient_error_is_retried_and_succeeds(sandbox, settings):
    settings.WECOM_RETRY_BASE_SECONDS = 0.05
    sandbox.control.set_faults({API: {"error_rate": 1.0, "errcode": -1, "times": 2}})

    assert client().get(API)["errcode"] == 0


def test_http_5xx_is_retried(sandbox, settings):
    settings.WECOM_RETRY_BASE_SECONDS = 0.05
    sandbox.control.set_faults({API: {"http_error_rate": 1.0, "http_status": 502, "times": 1}})

    assert client().get(API)["errcode"] == 0


def test_transient_errors_give_up_after_the_configured_attempts(sandbox, settings):
    settings.WECOM_RETRY_BASE_SECONDS = 0.01
    sandbox.control.set_faults({API: {"error_rate": 1.0, "errcode": 45033}})

    with pytest.raises(WeComTransientError) as error:
        client().get(API)

    assert error.value.errcode == 45033


def test_permanent_errcode_is_a_typed_error_with_its_meaning(sandbox):
    sandbox.control.set_faults({API: {"error_rate": 1.0, "errcode": 48002}})

    with pytest.raises(WeComPermanentError) as error:
        client().get(API)

    assert error.value.errcode == 48002
    assert "可调用接口的应用" in error.value.meaning
    assert "48002" in str(error.value)


def test_timeout_is_a_transient_error(sandbox, settings):
    settings.WECOM_READ_TIMEOUT = 0.3
    settings.WECOM_CALL_ATTEMPTS = 1
    sandbox.control.set_faults({API: {"latency_ms": 1500}})

    with pytest.raises(WeComTransientError, match="timed out"):
        client().get(API)


def test_failed_gettoken_never_logs_the_secret(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    with schema_context("public"):
        from tenants.models import WeComApp

        app = WeComApp.objects.get(corp__corp_id=CORP_ID, kind="customer_contact")
        app.secret = "wrong-secret-should-never-be-logged"
        app.save()

    with pytest.raises(WeComPermanentError) as error:
        client().get(API)

    assert error.value.errcode == 40001
    assert "Secret" in error.value.meaning
    assert "wrong-secret-should-never-be-logged" not in caplog.text
    assert "wrong-secret-should-never-be-logged" not in str(error.value)


def test_unreachable_wecom_is_transient_and_leaks_no_secret(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    with schema_context("public"):
        from tenants.models import WeComCorp

        WeComCorp.objects.filter(corp_id=CORP_ID).update(api_base_url="http://127.0.0.1:9/cgi-bin/")

    with pytest.raises(WeComTransientError) as error:
        client().get(API)

    assert SECRET not in caplog.text
    assert SECRET not in str(error.value)
    assert error.value.__cause__ is None
