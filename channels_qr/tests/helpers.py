"""Shared by the channel tests: a corp in the sandbox with guides, and scans delivered as
add events the way WeCom's callback would carry them."""

from typing import Any

from django_tenants.utils import schema_context

from contacts.models import Guide, Store
from scrm.wecom.client import wecom_client
from scrm.wecom.events.services import callback_event_process, callback_event_store
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox

CORP_ID = "wwchanneltest001"


def setup_corp(sandbox, tenant, guides=("amy", "bob", "cat")) -> dict[str, Guide]:
    connect_to_sandbox(sandbox, tenant, CORP_ID)
    control = sandbox.control
    control.add_department(CORP_ID, "南京路店", id=2)
    for userid in guides:
        control.add_member(CORP_ID, userid, name=f"导购{userid}", department=[2], notify=False)
    with schema_context("alpha"):
        store = Store.objects.create(department_id=2, name="南京路店")
        return {
            userid: Guide.objects.create(userid=userid, name=f"导购{userid}", store=store)
            for userid in guides
        }


def add_event(control, scanned: dict[str, Any], *, at: int | None = None) -> Any:
    """Store and process the add event of a scan; returns the stored event."""
    fields = {
        "ToUserName": CORP_ID,
        "FromUserName": "sys",
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "CreateTime": str(at if at is not None else control.now()),
        "UserID": scanned["userid"],
        "ExternalUserID": scanned["external_userid"],
    }
    if scanned.get("state"):
        fields["State"] = scanned["state"]
    if scanned.get("welcome_code"):
        fields["WelcomeCode"] = scanned["welcome_code"]
    stored = callback_event_store(
        app_kind="customer_contact", fields=fields, raw_xml="<xml/>", tenant_schema="alpha"
    )
    assert stored is not None
    assert callback_event_process(event_id=stored.pk) == "done", stored.last_error
    return stored


def way_members(config_id: str) -> list[str]:
    way = wecom_client().post("externalcontact/get_contact_way", data={"config_id": config_id})
    return sorted(way["contact_way"]["user"])
