"""Scan → add_external_contact with a WelcomeCode usable once within 20 s."""

import pytest
from wechatpy.exceptions import WeChatClientException


@pytest.fixture
def way(client):
    return client.external_contact.add_contact_way(
        type=1, scene=2, state="parcel-card", user=["guide00002"]
    )


def test_scan_welcome_within_20s_then_reuse(client, control, corp, way):
    corp_id = corp["corp_id"]
    scan = control.scan(corp_id, way["config_id"], name="新客户")
    assert scan["userid"] == "guide00002"
    assert scan["new_customer"] is True

    follow = client.external_contact.get(scan["external_userid"])["follow_user"][0]
    assert follow["state"] == "parcel-card"
    assert follow["add_way"] == 1
    assert follow["oper_userid"] == scan["external_userid"]

    client.external_contact.send_welcome_msg(
        {"welcome_code": scan["welcome_code"], "text": {"content": "欢迎光临"}}
    )
    received = control.received(corp_id, scan["external_userid"])
    assert [m["text"] for m in received["welcome"]] == ["欢迎光临"]
    assert received["welcome"][0]["sender"] == "guide00002"
    assert received["welcome"][0]["at"] >= follow["createtime"]

    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.send_welcome_msg(
            {"welcome_code": scan["welcome_code"], "text": {"content": "again"}}
        )
    assert raised.value.errcode == 84071
    assert len(control.received(corp_id, scan["external_userid"])["welcome"]) == 1


def test_welcome_code_expires_after_20s(client, control, corp, way):
    scan = control.scan(corp["corp_id"], way["config_id"])
    control.advance_clock(21)
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.send_welcome_msg(
            {"welcome_code": scan["welcome_code"], "text": {"content": "late"}}
        )
    assert raised.value.errcode == 84071
    assert control.received(corp["corp_id"], scan["external_userid"])["welcome"] == []


def test_unknown_code_and_bad_bodies(client, control, corp, way):
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.send_welcome_msg({"welcome_code": "nope", "text": {"content": "x"}})
    assert raised.value.errcode == 84071

    code = control.scan(corp["corp_id"], way["config_id"])["welcome_code"]
    link = {"msgtype": "link", "link": {"title": "t", "url": "https://example.com"}}
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.send_welcome_msg({"welcome_code": code, "attachments": [link] * 10})
    assert raised.value.errcode == 40058
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.send_welcome_msg({"welcome_code": code})
    assert raised.value.errcode == 44004
    # The code survives a refused body and still works once.
    client.external_contact.send_welcome_msg({"welcome_code": code, "attachments": [link] * 9})


def test_media_expires_after_3_days(client, control, corp, way):
    media_id = client.media.upload("image", ("a.png", b"12345678"))["media_id"]
    control.advance_clock(3 * 24 * 3600 + 1)
    code = control.scan(corp["corp_id"], way["config_id"])["welcome_code"]
    image = {"msgtype": "image", "image": {"media_id": media_id}}
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.send_welcome_msg({"welcome_code": code, "attachments": [image]})
    assert raised.value.errcode == 40007


def test_no_welcome_code_when_the_member_has_a_console_message(control, corp, way):
    scan = control.scan(corp["corp_id"], way["config_id"], welcome_code=False)
    assert scan["welcome_code"] is None
    event = control.wait_for_callbacks(corp["corp_id"], 1, change_type="add_external_contact")
    assert "WelcomeCode" not in event[0]["event"]
    assert event[0]["event"]["State"] == "parcel-card"


def test_receipts_in_bulk_list_every_welcome_a_customer_received(client, control, corp, way):
    corp_id = corp["corp_id"]
    other_way = client.external_contact.add_contact_way(
        type=1, scene=2, state="poster", user=["guide00003"]
    )
    once = control.scan(corp_id, way["config_id"])
    twice = control.scan(corp_id, way["config_id"])
    unwelcomed = control.scan(corp_id, way["config_id"])
    # the second customer also adds another guide: a second add, a second welcome
    again = control.scan(corp_id, other_way["config_id"], external_userid=twice["external_userid"])
    for scan in (once, twice, again):
        client.external_contact.send_welcome_msg(
            {"welcome_code": scan["welcome_code"], "text": {"content": "欢迎"}}
        )

    welcomes = control.all_receipts(corp_id, "welcome")

    assert [entry[0] for entry in welcomes[once["external_userid"]]] == ["guide00002"]
    assert [entry[0] for entry in welcomes[twice["external_userid"]]] == [
        "guide00002",
        "guide00003",
    ]
    assert unwelcomed["external_userid"] not in welcomes
    assert control.all_receipts(corp_id, "group_msg") == {}
    assert control.receipts(corp_id, "welcome", offset=0, limit=1)["more"] is True
