"""A corp in the sandbox for the handover tests: two stores, five guides, amy's customers
and group chat, synced into the database; callbacks replayed from the sandbox's log."""

from typing import Any

from django_tenants.utils import schema_context

from contacts import sync
from contacts.models import Guide, SyncRun
from scrm.wecom.events.services import callback_event_process, callback_event_store
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox

CORP_ID = "wwhandovertest01"
DAY = 24 * 3600


def setup_corp(sandbox, tenant, *, customers: int = 6) -> dict[str, Guide]:
    """Store 2 (南京路店): amy, bob, cat, dan; store 3 (淮海路店): eve. amy holds
    `customers` customers (wmH0000...), bob holds wmB0000 and wmB0001; amy owns a chat."""
    connect_to_sandbox(sandbox, tenant, CORP_ID)
    control = sandbox.control
    control.add_department(CORP_ID, "南京路店", id=2)
    control.add_department(CORP_ID, "淮海路店", id=3)
    for userid, department in (("amy", 2), ("bob", 2), ("cat", 2), ("dan", 2), ("eve", 3)):
        control.add_member(
            CORP_ID, userid, name=f"导购{userid}", department=[department], notify=False
        )
    for n in range(customers):
        control.add_customer(
            CORP_ID,
            external_userid=f"wmH{n:04d}",
            name=f"客户{n}",
            follows=[{"userid": "amy", "remark": f"老客{n}", "remark_mobiles": [f"139{n:08d}"]}],
        )
    for n in range(2):
        control.add_customer(
            CORP_ID, external_userid=f"wmB{n:04d}", name=f"B客户{n}", follows=[{"userid": "bob"}]
        )
    control.create_group_chat(
        CORP_ID,
        "amy",
        name="amy 的会员群",
        members=["bob"],
        external_userids=["wmH0000", "wmH0001"],
        chat_id="wrCHATAMY001",
    )
    with schema_context(tenant.schema_name):
        run = SyncRun.objects.create(trigger="test")
        assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE
        return {g.userid: g for g in Guide.objects.all()}


def last_callback_id(control) -> int:
    deliveries = control.callbacks(CORP_ID)
    return max((d["id"] for d in deliveries), default=0)


def replay_callbacks(control, since_id: int, schema: str = "alpha") -> list[str]:
    """Store and process, in order, every event the sandbox emitted after `since_id`, as
    WeCom's callback would bring them; returns their change types."""
    kinds = []
    for delivery in control.callbacks(CORP_ID, since_id):
        fields: dict[str, Any] = {"ToUserName": CORP_ID, "MsgType": "event"}
        fields.update({k: str(v) for k, v in delivery["event"].items()})
        app = "contacts_sync" if fields.get("Event") == "change_contact" else "customer_contact"
        stored = callback_event_store(
            app_kind=app, fields=fields, raw_xml="<xml/>", tenant_schema=schema
        )
        if stored is not None:
            assert callback_event_process(event_id=stored.pk) == "done", stored.last_error
        kinds.append(fields.get("ChangeType", ""))
    return kinds


def followers(control, external_userid: str) -> list[str]:
    return sorted(f["userid"] for f in control.customer(CORP_ID, external_userid)["follows"])


def transfers_of(control, external_userid: str) -> list[dict[str, Any]]:
    return control.transfers(CORP_ID, external_userid)
