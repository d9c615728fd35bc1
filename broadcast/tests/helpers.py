"""A corp in the sandbox for the group-send tests, synced into the database.

amy holds wmG0000-wmG0009 (and wmGA00010... when asked for more), bob wmG0010-wmG0014,
both hold wmG0015 (bob added them last), cat holds wmG0016; amy owns a group chat."""

from collections import Counter
from typing import Any

from django_tenants.utils import schema_context

from broadcast.models import Broadcast, Chunk
from broadcast.planning import broadcast_plan
from broadcast.services import BroadcastData, broadcast_confirm, broadcast_create
from contacts import sync
from contacts.models import Guide, SyncRun
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging.models import Segment
from tagging.segments import segment_save

CORP_ID = "wwbroadcasttest1"
DAY = 24 * 3600


def setup_corp(sandbox, tenant, *, amy_customers: int = 10) -> dict[str, Guide]:
    connect_to_sandbox(sandbox, tenant, CORP_ID)
    control = sandbox.control
    control.add_department(CORP_ID, "南京路店", id=2)
    for userid in ("amy", "bob", "cat"):
        control.add_member(CORP_ID, userid, name=f"导购{userid}", department=[2], notify=False)
    now = control.now()
    for n in range(amy_customers):
        external_userid = f"wmG{n:04d}" if n < 10 else f"wmGA{n:05d}"
        control.add_customer(CORP_ID, external_userid=external_userid, follows=[{"userid": "amy"}])
    for n in range(10, 15):
        control.add_customer(CORP_ID, external_userid=f"wmG{n:04d}", follows=[{"userid": "bob"}])
    control.add_customer(
        CORP_ID,
        external_userid="wmG0015",
        follows=[
            {"userid": "amy", "createtime": now - 30 * DAY},
            {"userid": "bob", "createtime": now - 2 * DAY},
        ],
    )
    control.add_customer(CORP_ID, external_userid="wmG0016", follows=[{"userid": "cat"}])
    control.create_group_chat(
        CORP_ID, "amy", name="amy 的群", external_userids=["wmG0000"], chat_id="wrGROUPAMY01"
    )
    with schema_context(tenant.schema_name):
        run = SyncRun.objects.create(trigger="test")
        assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE
        return {g.userid: g for g in Guide.objects.all()}


def everyone() -> Segment:
    existing = Segment.objects.filter(name="全部客户").first()
    return existing or segment_save(
        segment=None, actor=None, name="全部客户", definition={"op": "and", "rules": []}
    )


def planned(**fields: Any) -> Broadcast:
    """A group send to the whole book, planned and confirmed (dispatch left to the test)."""
    data = BroadcastData(
        name=fields.pop("name", "周末上新"),
        text=fields.pop("text", "{guide_name} 为您准备了周末上新，回复 1 预约试穿"),
        audience=fields.pop("audience", "segment"),
        **fields,
    )
    if data.audience == "segment" and data.segment_id is None:
        data.segment_id = everyone().pk
    broadcast = broadcast_create(data=data)
    broadcast_plan(broadcast_id=broadcast.pk)
    return broadcast_confirm(broadcast=broadcast)


def group_messages(control, targets: list[str], msgids: set[str]) -> Counter:
    """How many of these templates' messages each target received (the sandbox's log)."""
    received: Counter = Counter()
    for target in targets:
        for message in control.received(CORP_ID, target)["group_messages"]:
            if message["msgid"] in msgids:
                received[target] += 1
    return received


def msgids(broadcast: Broadcast) -> set[str]:
    return set(
        Chunk.objects.filter(broadcast=broadcast).exclude(msgid="").values_list("msgid", flat=True)
    )


def guides_confirm(control, broadcast: Broadcast, only: str | None = None) -> None:
    for chunk in Chunk.objects.filter(broadcast=broadcast).select_related("sender"):
        if chunk.msgid and (only is None or chunk.sender.userid == only):
            control.confirm_template(CORP_ID, chunk.msgid)
