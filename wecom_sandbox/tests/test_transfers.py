"""在职/离职继承: 100 per call, 2 on-duty transfers per customer per 90 days, 24 h takeover,
refusals, resigned handovers and unassigned customers."""

import pytest
from wechatpy.exceptions import WeChatClientException

from wecom_sandbox.tests import schemas
from wecom_sandbox.tests.schemas import validate

DAY = 24 * 3600


def _transfer(client, handover, takeover, external_userids, resigned=False):
    path = (
        "externalcontact/resigned/transfer_customer"
        if resigned
        else ("externalcontact/transfer_customer")
    )
    answer = client.post(
        path,
        data={
            "handover_userid": handover,
            "takeover_userid": takeover,
            "external_userid": external_userids,
        },
    )
    validate(answer, schemas.TRANSFER_CUSTOMER)
    return {c["external_userid"]: c["errcode"] for c in answer["customer"]}


def _result(client, handover, takeover, resigned=False):
    path = (
        "externalcontact/resigned/transfer_result"
        if resigned
        else ("externalcontact/transfer_result")
    )
    answer = client.post(path, data={"handover_userid": handover, "takeover_userid": takeover})
    validate(answer, schemas.TRANSFER_RESULT)
    return {c["external_userid"]: c for c in answer["customer"]}


def test_at_most_100_customers_per_call(client, control, corp):
    control.seed(corp["corp_id"], customers=303)
    ids = control.customers(corp["corp_id"], userid="guide00001", limit=101)
    with pytest.raises(WeChatClientException) as raised:
        _transfer(client, "guide00001", "guide00002", ids)
    assert raised.value.errcode == 40058
    assert "100" in raised.value.errmsg
    assert set(_transfer(client, "guide00001", "guide00002", ids[:100]).values()) == {0}


def test_waiting_24h_then_done(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=3)
    customer = control.customers(corp_id, userid="guide00001")[0]
    started = control.now()
    assert _transfer(client, "guide00001", "guide00002", [customer, "wmUnknown"]) == {
        customer: 0,
        "wmUnknown": 40096,
    }
    waiting = _result(client, "guide00001", "guide00002")[customer]
    assert waiting["status"] == 2
    assert started + DAY <= waiting["takeover_time"] <= started + DAY + 5
    # A second transfer of the same customer while one waits.
    assert _transfer(client, "guide00001", "guide00003", [customer]) == {customer: 40129}

    control.advance_clock(DAY + 1)

    assert _result(client, "guide00001", "guide00002")[customer]["status"] == 1
    follow_users = client.external_contact.get(customer)["follow_user"]
    assert [f["userid"] for f in follow_users] == ["guide00002"]
    events = control.wait_for_callbacks(corp_id, 2)
    by_type = {d["event"]["ChangeType"]: d["event"] for d in events}
    assert by_type["del_external_contact"]["Source"] == "DELETE_BY_TRANSFER"
    assert by_type["add_external_contact"]["UserID"] == "guide00002"


def test_a_taker_at_the_member_customer_limit_ends_with_status_4(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=6)
    held_by_taker = len(control.customers(corp_id, userid="guide00002"))
    control.set_limits(member_customer_limit=held_by_taker + 1)
    customers = control.customers(corp_id, userid="guide00001")[:2]
    assert set(_transfer(client, "guide00001", "guide00002", customers).values()) == {0}

    control.advance_clock(DAY + 1)

    results = _result(client, "guide00001", "guide00002")
    # the first takeover fills the taker; the second finds them at the limit
    assert sorted(r["status"] for r in results.values()) == [1, 4]
    full = next(c for c, r in results.items() if r["status"] == 4)
    assert "guide00001" in [f["userid"] for f in client.external_contact.get(full)["follow_user"]]
    fails = [
        d["event"] for d in control.wait_for_callbacks(corp_id, 1, change_type="transfer_fail")
    ]
    assert fails[0]["FailReason"] == "customer_limit_exceed"


def test_two_onjob_transfers_per_90_days(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=3)
    customer = control.customers(corp_id, userid="guide00001")[0]

    assert _transfer(client, "guide00001", "guide00002", [customer]) == {customer: 0}
    control.decide_transfer(corp_id, customer, "accept")
    assert _transfer(client, "guide00002", "guide00001", [customer]) == {customer: 0}
    control.decide_transfer(corp_id, customer, "accept")
    assert _transfer(client, "guide00001", "guide00002", [customer]) == {customer: 40128}

    control.advance_clock(90 * DAY + 1)
    assert _transfer(client, "guide00001", "guide00002", [customer]) == {customer: 0}


def test_relation_and_member_checks(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=3)
    theirs = control.customers(corp_id, userid="guide00002")[0]
    assert _transfer(client, "guide00001", "guide00003", [theirs]) == {theirs: 84061}
    with pytest.raises(WeChatClientException) as raised:
        _transfer(client, "guide00001", "guide00001", [theirs])
    assert raised.value.errcode == 40130
    with pytest.raises(WeChatClientException) as raised:
        _transfer(client, "guide00001", "nobody", [theirs])
    assert raised.value.errcode == 60111


def test_refusal(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=3)
    customer = control.customers(corp_id, userid="guide00001")[0]
    _transfer(client, "guide00001", "guide00002", [customer])
    control.decide_transfer(corp_id, customer, "refuse")
    assert _result(client, "guide00001", "guide00002")[customer]["status"] == 3
    assert [f["userid"] for f in client.external_contact.get(customer)["follow_user"]] == [
        "guide00001"
    ]
    fail = control.wait_for_callbacks(corp_id, 1, change_type="transfer_fail")[0]["event"]
    assert fail["UserID"] == "guide00002"
    assert fail["FailReason"] == "customer_refused"


def test_resigned_member(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=6)
    customers = control.customers(corp_id, userid="guide00001")
    with pytest.raises(WeChatClientException) as raised:
        _transfer(client, "guide00001", "guide00002", customers, resigned=True)
    assert raised.value.errcode == 40097

    control.member_leaves(corp_id, "guide00001")
    unassigned = client.external_contact.get_unassigned_list(0, 1000)
    assert {i["external_userid"] for i in unassigned["info"]} == set(customers)
    assert unassigned["is_last"] is True
    assert "guide00001" not in client.external_contact.get_follow_user_list()["follow_user"]
    with pytest.raises(WeChatClientException) as raised:
        client.user.get("guide00001")
    assert raised.value.errcode == 60111

    assert set(
        _transfer(client, "guide00001", "guide00002", customers, resigned=True).values()
    ) == {0}
    assert client.external_contact.get_unassigned_list(0, 1000)["info"] == []
    control.advance_clock(DAY + 1)
    results = _result(client, "guide00001", "guide00002", resigned=True)
    assert {r["status"] for r in results.values()} == {1}
    assert set(client.external_contact.list("guide00002")["external_userid"]) >= set(customers)


def test_group_chat_transfers(client, control, corp):
    corp_id = corp["corp_id"]
    chat = control.create_group_chat(corp_id, "guide00001", name="群")["chat_id"]
    failed = client.post(
        "externalcontact/groupchat/transfer",
        data={"chat_id_list": [chat], "new_owner": "guide00002"},
    )["failed_chat_list"]
    assert [f["errcode"] for f in failed] == [90500]
    assert (
        client.post(
            "externalcontact/groupchat/onjob_transfer",
            data={"chat_id_list": [chat], "new_owner": "guide00002"},
        )["failed_chat_list"]
        == []
    )
    assert client.external_contact_group_chat.get(chat)["group_chat"]["owner"] == "guide00002"
