"""The callback receiver, fed by wechatpy's WeChatCrypto (an implementation we did not write)."""

import threading
import time
import uuid

import pytest
import redis
from django.db import OperationalError, connection
from django.test import Client
from django_tenants.utils import schema_context
from wechatpy.enterprise.crypto import WeChatCrypto

from accounts.models import AuditLogEntry
from scrm.wecom.events import registry
from scrm.wecom.events.services import callback_event_process, callback_event_store
from scrm.wecom.models import CallbackEvent
from scrm.wecom.tests.conftest import AES_KEY, CORP_ID, TOKEN, connect_alpha

URL = f"/wecom/callback/{CORP_ID}/customer_contact/"


def event_xml(change_type="add_external_contact", external_userid="wmCustomer1", create_time=None):
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        "<FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event>"
        f"<ChangeType><![CDATA[{change_type}]]></ChangeType>"
        "<UserID><![CDATA[guide01]]></UserID>"
        f"<ExternalUserID><![CDATA[{external_userid}]]></ExternalUserID>"
        "<State><![CDATA[store-42]]></State>"
        "<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>"
    )


def signed_post(message: str, *, corp_id=CORP_ID, token=TOKEN):
    """What WeCom POSTs: an envelope with <Encrypt>, signature in the query string."""
    nonce, timestamp = uuid.uuid4().hex[:10], str(int(time.time()))
    reply = WeChatCrypto(token, AES_KEY, corp_id).encrypt_message(message, nonce, timestamp)
    encrypted = reply.split("<Encrypt><![CDATA[")[1].split("]]></Encrypt>")[0]
    signature = reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    body = (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
        f"<AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    query = f"?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}"
    return query, body


def post(client, query, body):
    return client.post(URL + query, data=body, content_type="text/xml")


def stored_events():
    with schema_context("alpha"):
        return list(CallbackEvent.objects.all())


@pytest.fixture
def wecom_client_http():
    # WeCom calls the platform's own host; the corp id in the path, not the host, picks
    # the tenant.
    return Client(HTTP_HOST="localhost")


def test_wechatpy_signed_callback_is_stored_and_acknowledged(
    alpha_app, wecom_client_http, django_capture_on_commit_callbacks
):
    query, body = signed_post(event_xml())

    with django_capture_on_commit_callbacks() as queued:
        response = post(wecom_client_http, query, body)

    assert response.status_code == 200
    assert response.content == b""
    [event] = stored_events()
    assert event.event == "change_external_contact"
    assert event.change_type == "add_external_contact"
    assert event.payload["ExternalUserID"] == "wmCustomer1"
    assert event.payload["State"] == "store-42"
    assert event.status == CallbackEvent.Status.RECEIVED
    assert len(queued) == 1


def test_tampered_signature_gets_403_and_stores_nothing(alpha_app, wecom_client_http):
    query, body = signed_post(event_xml())
    tampered = query.replace("msg_signature=", "msg_signature=0")[:-1]

    response = post(wecom_client_http, tampered, body)

    assert response.status_code == 403
    assert stored_events() == []


def test_wrong_token_gets_403(alpha_app, wecom_client_http):
    query, body = signed_post(event_xml(), token="someone-elses-token")
    assert post(wecom_client_http, query, body).status_code == 403
    assert stored_events() == []


def test_replayed_callback_is_acknowledged_and_processed_once(
    alpha_app, wecom_client_http, django_capture_on_commit_callbacks
):
    query, body = signed_post(event_xml())

    with django_capture_on_commit_callbacks() as queued:
        first = post(wecom_client_http, query, body)
        # WeCom re-sends when it saw no 200 within 5 s: new signature, same event
        query2, body2 = signed_post(event_xml(create_time=stored_events()[0].payload["CreateTime"]))
        second = post(wecom_client_http, query2, body2)
        third = post(wecom_client_http, query, body)

    assert first.status_code == second.status_code == third.status_code == 200
    assert len(stored_events()) == 1
    assert len(queued) == 1


@pytest.mark.parametrize(
    "body",
    [
        "<xml><Encrypt>",
        "not xml at all",
        "<xml><Nothing/></xml>",
        "<other><Encrypt>x</Encrypt></other>",
    ],
)
def test_malformed_body_gets_400(alpha_app, wecom_client_http, body):
    query, _ = signed_post(event_xml())
    assert post(wecom_client_http, query, body).status_code == 400
    assert stored_events() == []


def test_entity_expansion_is_refused(alpha_app, wecom_client_http):
    query, _ = signed_post(event_xml())
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
    assert post(wecom_client_http, query, bomb).status_code == 400


def test_message_for_another_corp_gets_400(alpha_app, wecom_client_http):
    query, body = signed_post(event_xml(), corp_id="wwsomeoneelse")
    assert post(wecom_client_http, query, body).status_code == 400
    assert stored_events() == []


def test_decrypted_garbage_gets_400(alpha_app, wecom_client_http):
    query, body = signed_post("this is not xml")
    assert post(wecom_client_http, query, body).status_code == 400


def test_missing_query_parameters_get_400(alpha_app, wecom_client_http):
    _, body = signed_post(event_xml())
    assert post(wecom_client_http, "", body).status_code == 400


def test_unknown_corp_gets_404(alpha_app, wecom_client_http):
    query, body = signed_post(event_xml())
    response = wecom_client_http.post(
        "/wecom/callback/wwnobody/customer_contact/" + query, data=body, content_type="text/xml"
    )
    assert response.status_code == 404


def test_url_verification_returns_the_echostr(alpha_app, wecom_client_http):
    # WeCom's GET carries an encrypted echostr signed like a message
    nonce, timestamp = "nonce123", str(int(time.time()))
    reply = WeChatCrypto(TOKEN, AES_KEY, CORP_ID).encrypt_message("echo-8412", nonce, timestamp)
    echostr = reply.split("<Encrypt><![CDATA[")[1].split("]]></Encrypt>")[0]
    signature = reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]

    response = wecom_client_http.get(
        URL,
        {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr},
    )

    assert response.status_code == 200
    assert response.content == b"echo-8412"
    bad = wecom_client_http.get(
        URL, {"msg_signature": "0" * 40, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
    )
    assert bad.status_code == 403


def test_handlers_run_in_declared_order_and_failures_are_recorded(alpha_app):
    calls = []

    @registry.callback_handler(event="change_external_contact", order=5, name="test.second")
    def second(event):
        calls.append("second")
        raise ValueError("customer has no guide")

    @registry.callback_handler(
        event="change_external_contact",
        change_type="add_external_contact",
        order=0,
        name="test.first",
    )
    def first(event):
        calls.append("first")

    try:
        with schema_context("alpha"):
            event = callback_event_store(
                app_kind="customer_contact",
                fields={
                    "Event": "change_external_contact",
                    "ChangeType": "add_external_contact",
                    "CreateTime": "1",
                },
                raw_xml="<xml/>",
                tenant_schema="alpha",
            )
            status = callback_event_process(event_id=event.pk)
            event.refresh_from_db()
    finally:
        registry.unregister("test.first")
        registry.unregister("test.second")

    assert calls == ["first", "second"]
    assert status == "failed"
    # the apps' own handlers of this event (a welcome at order 0) may have run too
    assert "test.first" in event.handlers_done
    assert "test.second" not in event.handlers_done
    assert "customer has no guide" in event.last_error


@pytest.mark.slow
def test_two_workers_racing_on_one_event_process_it_once(committed_db, tenant_a):
    connect_alpha(tenant_a)

    @registry.callback_handler(event="change_external_contact", name="test.count")
    def count(event):
        AuditLogEntry.objects.create(action="settings.changed", target_label=f"event {event.pk}")
        time.sleep(0.2)  # hold the work long enough for the rival to try

    try:
        with schema_context("alpha"):
            # Stored directly: no task queued, so a session worker cannot take it first.
            event = CallbackEvent.objects.create(
                app_kind="customer_contact",
                dedupe_key="race",
                event="change_external_contact",
                # A change type no app handles: only the counting handler runs.
                change_type="race_test",
                raw_xml="<xml/>",
            )
        barrier = threading.Barrier(2)
        results = []

        def worker():
            try:
                with schema_context("alpha"):
                    barrier.wait()
                    results.append(callback_event_process(event_id=event.pk))
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        registry.unregister("test.count")

    assert sorted(results) == ["done", "skipped"]
    with schema_context("alpha"):
        assert AuditLogEntry.objects.filter(target_label=f"event {event.pk}").count() == 1


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ConnectionError("Error while reading: Connection reset by peer"),
        OperationalError("server closed the connection unexpectedly"),
    ],
)
def test_a_handler_failing_on_our_own_services_is_retried_not_failed(alpha_app, error):
    """Found by the soak run: a Redis restart made a handler fail for good."""

    @registry.callback_handler(event="change_external_contact", name="test.flaky")
    def flaky(event):
        raise error

    try:
        with schema_context("alpha"):
            event = callback_event_store(
                app_kind="customer_contact",
                fields={
                    "Event": "change_external_contact",
                    "ChangeType": "soak_probe",
                    "CreateTime": "7",
                },
                raw_xml="<xml/>",
                tenant_schema="alpha",
            )
            status = callback_event_process(event_id=event.pk)
            event.refresh_from_db()
    finally:
        registry.unregister("test.flaky")

    assert status == CallbackEvent.Status.RETRYING
    assert event.status == CallbackEvent.Status.RETRYING
