"""The sandbox calls the platform like WeCom: a customer scans a live code, the encrypted
add_external_contact callback reaches our receiver and lands in the tenant's inbox."""

import pytest
from django_tenants.utils import schema_context

from scrm.wecom.client import wecom_client
from scrm.wecom.models import CallbackEvent
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tenants.models import WeComApp
from tests.polling import wait_until

CORP_ID = "wwendtoend00001"
TOKEN = "sandboxToken"
AES_KEY = "A" * 43

pytestmark = pytest.mark.slow


def test_scan_callback_reaches_the_inbox(live_web, wecom_sandbox, tenant_a):
    # given alpha connected to the sandbox, whose callback URL is our live server
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    callback_url = f"{live_web}/wecom/callback/{CORP_ID}/customer_contact/"
    wecom_sandbox.control.set_callback(
        CORP_ID, "customer_contact", callback_url, token=TOKEN, encoding_aes_key=AES_KEY
    )
    verification = wecom_sandbox.control.verify_url(CORP_ID, "customer_contact")
    assert verification["matched"] is True, verification
    assert verification["within_1s"] is True
    wecom_sandbox.control.add_member(CORP_ID, "guide01", name="导购一", notify=False)

    # and a live code created through our client
    with schema_context("alpha"):
        way = wecom_client().post(
            "externalcontact/add_contact_way",
            data={"type": 1, "scene": 2, "state": "store-42", "user": ["guide01"]},
        )

    # when a customer scans it
    scan = wecom_sandbox.control.scan(CORP_ID, way["config_id"])

    # then the callback was acknowledged and stored once in alpha's inbox, with State and code
    [delivery] = wecom_sandbox.control.wait_for_callbacks(
        CORP_ID, change_type="add_external_contact"
    )
    assert delivery["status"] == "delivered", delivery

    def stored():
        with schema_context("alpha"):
            return list(CallbackEvent.objects.filter(change_type="add_external_contact"))

    [event] = wait_until(stored)
    assert event.payload["State"] == "store-42"
    assert event.payload["ExternalUserID"] == scan["external_userid"]
    assert event.payload["WelcomeCode"] == scan["welcome_code"]
    assert event.payload["UserID"] == "guide01"
    with schema_context("beta"):
        assert not CallbackEvent.objects.exists()
    assert WeComApp.objects.filter(corp__corp_id=CORP_ID).count() == 2
