"""企业群发: nothing is delivered until the member confirms; then per customer 1 sent,
2 not a friend, 3 over the monthly cap."""

import pytest
from wechatpy.exceptions import WeChatClientException


def _template(client, **body):
    return client.external_contact.add_msg_template({"text": {"content": "双十一"}, **body})


def test_confirm_delivers_with_statuses(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=6)
    mine = control.customers(corp_id, userid="guide00001")  # 2 customers
    theirs = control.customers(corp_id, userid="guide00002")[0]
    created = _template(client, sender="guide00001", external_userid=[*mine, theirs, "wmGhost"])
    assert created["fail_list"] == ["wmGhost"]
    msgid = created["msgid"]

    task = client.post("externalcontact/get_groupmsg_task", data={"msgid": msgid})
    assert task["task_list"] == [{"userid": "guide00001", "status": 0}]
    assert control.received(corp_id, mine[0])["group_messages"] == []

    control.set_limits(group_msg_monthly_cap=1)
    already = _template(client, sender="guide00001", external_userid=[mine[1]])["msgid"]
    control.confirm_template(corp_id, already)
    summary = control.confirm_template(corp_id, msgid)
    assert (summary["sent"], summary["not_friend"], summary["over_limit"]) == (1, 1, 1)

    results = client.post(
        "externalcontact/get_groupmsg_send_result", data={"msgid": msgid, "userid": "guide00001"}
    )["send_list"]
    status = {r["external_userid"]: r["status"] for r in results}
    assert status == {mine[0]: 1, mine[1]: 3, theirs: 2}
    assert "send_time" in next(r for r in results if r["status"] == 1)
    task = client.post("externalcontact/get_groupmsg_task", data={"msgid": msgid})["task_list"][0]
    assert task["status"] == 2
    received = control.received(corp_id, mine[0])["group_messages"]
    assert [(m["msgid"], m["text"]) for m in received] == [(msgid, "双十一")]
    legacy = client.external_contact.get_group_msg_result(msgid)
    assert legacy["check_status"] == 1
    assert {d["external_userid"]: d["status"] for d in legacy["detail_list"]} == status


def test_default_cap_is_days_in_month(client, control, corp):
    corp_id = corp["corp_id"]
    customer = control.add_customer(corp_id, follows=[{"userid": "guide00001"}])["external_userid"]
    statuses = []
    for _ in range(32):
        msgid = _template(client, sender="guide00001", external_userid=[customer])["msgid"]
        control.confirm_template(corp_id, msgid)
        result = client.post(
            "externalcontact/get_groupmsg_send_result",
            data={"msgid": msgid, "userid": "guide00001"},
        )["send_list"][0]
        statuses.append(result["status"])
    sent = statuses.count(1)
    assert 28 <= sent <= 31
    assert statuses == [1] * sent + [3] * (32 - sent)


def test_without_sender_the_last_member_sends(client, control, corp):
    corp_id = corp["corp_id"]
    customer = control.add_customer(
        corp_id,
        follows=[
            {"userid": "guide00001", "createtime": 1_600_000_000},
            {"userid": "guide00003", "createtime": 1_700_000_000},
        ],
    )["external_userid"]
    msgid = _template(client, external_userid=[customer])["msgid"]
    tasks = client.post("externalcontact/get_groupmsg_task", data={"msgid": msgid})["task_list"]
    assert [t["userid"] for t in tasks] == ["guide00003"]


def test_limits_list_cancel_remind(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=3)
    with pytest.raises(WeChatClientException) as raised:
        _template(client, sender="guide00001", external_userid=[f"wm{i}" for i in range(10_001)])
    assert raised.value.errcode == 40058
    with pytest.raises(WeChatClientException) as raised:
        _template(client, external_userid=["wmGhost"])
    assert raised.value.errcode == 41048

    msgid = _template(client, sender="guide00001")["msgid"]  # all of the sender's customers
    now = control.now()
    listed = client.post(
        "externalcontact/get_groupmsg_list_v2",
        data={"chat_type": "single", "start_time": now - 60, "end_time": now + 60},
    )["group_msg_list"]
    assert msgid in [m["msgid"] for m in listed]

    for _ in range(3):
        client.post("externalcontact/remind_groupmsg_send", data={"msgid": msgid})
    with pytest.raises(WeChatClientException):
        client.post("externalcontact/remind_groupmsg_send", data={"msgid": msgid})
    reminders = [
        m for m in control.member_messages(corp_id, "guide00001") if m["kind"] == "groupmsg_remind"
    ]
    assert len(reminders) == 3

    client.post("externalcontact/cancel_groupmsg_send", data={"msgid": msgid})
    with pytest.raises(Exception, match="cancelled"):
        control.confirm_template(corp_id, msgid)
