"""Callbacks: encrypted and signed like WeCom, decryptable by wechatpy's WeChatCrypto, sent
off the request path, retried on slow or failing receivers, 3 attempts in all."""

import time

import pytest
import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto

from wecom_sandbox.tests.receiver import decrypt


@pytest.fixture
def wired(control, corp, receiver):
    """The corp's customer_contact app points at the receiver."""
    app = control.set_callback(corp["corp_id"], "customer_contact", receiver.url)
    control.set_callback_settings(timeout_seconds=0.5, attempts=3, retry_interval_seconds=0.1)
    return app


@pytest.fixture
def way(client):
    return client.external_contact.add_contact_way(type=2, scene=2, state="s1", user=["guide00001"])


def test_add_event_is_encrypted_and_signed(control, corp, receiver, wired, way):
    corp_id = corp["corp_id"]
    scan = control.scan(corp_id, way["config_id"])
    post = receiver.wait_for_posts(1)[0]

    assert post.path == "/wecom/callback/"
    assert set(post.query) == {"msg_signature", "timestamp", "nonce"}
    envelope = xmltodict.parse(post.body)["xml"]
    assert envelope["ToUserName"] == corp_id
    assert envelope["AgentID"] == "1000002"
    event = decrypt(post, wired["token"], wired["encoding_aes_key"], corp_id)
    assert event["ToUserName"] == corp_id
    assert event["FromUserName"] == "sys"
    assert event["MsgType"] == "event"
    assert event["Event"] == "change_external_contact"
    assert event["ChangeType"] == "add_external_contact"
    assert event["UserID"] == "guide00001"
    assert event["ExternalUserID"] == scan["external_userid"]
    assert event["State"] == "s1"
    assert event["WelcomeCode"] == scan["welcome_code"]
    assert abs(int(event["CreateTime"]) - control.now()) <= 5

    # A signature made with another token does not verify.
    with pytest.raises(Exception):  # noqa: B017, PT011 - wechatpy's InvalidSignatureException
        decrypt(post, "another-token", wired["encoding_aes_key"], corp_id)

    delivery = control.wait_for_callbacks(corp_id, 1)[0]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"][0]["status_code"] == 200


def test_scan_returns_before_the_callback_is_delivered(control, corp, receiver, wired, way):
    receiver.behaviour.delay = 0.4
    started = time.monotonic()
    control.scan(corp["corp_id"], way["config_id"])
    assert time.monotonic() - started < 0.3
    receiver.wait_for_posts(1)


def test_retried_when_slow_or_failing(control, corp, receiver, wired, way):
    corp_id = corp["corp_id"]
    receiver.behaviour.first_n = 2
    receiver.behaviour.first_delay = 1.0  # longer than the 0.5 s timeout
    control.scan(corp_id, way["config_id"])
    delivery = control.wait_for_callbacks(corp_id, 1)[0]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [None, None, 200]
    assert "Timeout" in delivery["attempts"][0]["error"]
    assert delivery["attempts"][0]["latency_ms"] >= 450
    # Each attempt carries the same, still valid, encrypted event.
    posts = receiver.wait_for_posts(3)
    assert len({p.body for p in posts}) == 1


def test_gives_up_after_three_attempts(control, corp, receiver, wired, way):
    corp_id = corp["corp_id"]
    receiver.behaviour.status = 500
    control.scan(corp_id, way["config_id"])
    delivery = control.wait_for_callbacks(corp_id, 1)[0]
    assert delivery["status"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500]
    assert len(receiver.posts()) == 3


def test_drop_callbacks_fault(control, corp, receiver, wired, way):
    corp_id = corp["corp_id"]
    control.set_faults(drop_callbacks=1.0)
    control.scan(corp_id, way["config_id"])
    delivery = control.wait_for_callbacks(corp_id, 1)[0]
    assert delivery["status"] == "dropped"
    time.sleep(0.2)
    assert receiver.posts() == []


def test_contact_book_events_go_to_the_contacts_sync_app(control, corp, receiver):
    corp_id = corp["corp_id"]
    sync = control.set_callback(corp_id, "contacts_sync", receiver.url)
    control.rename_member(corp_id, "guide00003", "guide-three")
    control.member_leaves(corp_id, "guide00002")
    posts = receiver.wait_for_posts(2)
    events = [decrypt(p, sync["token"], sync["encoding_aes_key"], corp_id) for p in posts]
    events.sort(key=lambda e: e["ChangeType"])
    assert events[0]["Event"] == "change_contact"
    assert events[0]["ChangeType"] == "delete_user"
    assert events[0]["UserID"] == "guide00002"
    assert events[1]["ChangeType"] == "update_user"
    assert (events[1]["UserID"], events[1]["NewUserID"]) == ("guide00003", "guide-three")
    assert xmltodict.parse(posts[0].body)["xml"]["AgentID"] is None


def test_customer_and_member_deletions(client, control, corp, receiver, wired, way):
    corp_id = corp["corp_id"]
    first = control.scan(corp_id, way["config_id"])["external_userid"]
    second = control.scan(corp_id, way["config_id"])["external_userid"]
    control.customer_deletes_member(corp_id, first, "guide00001")
    control.member_deletes_customer(corp_id, "guide00001", second)
    deliveries = control.wait_for_callbacks(corp_id, 4)
    kinds = [(d["event"]["ChangeType"], d["event"]["ExternalUserID"]) for d in deliveries]
    assert ("del_follow_user", first) in kinds
    assert ("del_external_contact", second) in kinds
    assert (
        "guide00001"
        not in client.post(
            "externalcontact/batch/get_by_user", data={"userid_list": ["guide00001"]}
        )["external_contact_list"]
    )


def test_client_side_tag_edit(client, control, corp, receiver, wired, way):
    corp_id = corp["corp_id"]
    tag = client.external_contact.add_corp_tag(None, "兴趣", 0, [{"name": "跑步"}])["tag_group"][
        "tag"
    ][0]
    customer = control.scan(corp_id, way["config_id"])["external_userid"]
    control.edit_relation(corp_id, "guide00001", customer, add_tag=[tag["id"]], remark="跑友")
    edit = control.wait_for_callbacks(corp_id, 1, change_type="edit_external_contact")[0]
    assert edit["event"]["UserID"] == "guide00001"
    follow = client.external_contact.get(customer)["follow_user"][0]
    assert follow["remark"] == "跑友"
    assert [t["tag_id"] for t in follow["tags"]] == [tag["id"]]


def test_url_verification(control, corp, receiver, wired):
    app = wired
    receiver.behaviour.crypto = WeChatCrypto(app["token"], app["encoding_aes_key"], corp["corp_id"])
    result = control.verify_url(corp["corp_id"], "customer_contact")
    assert result["matched"] is True
    assert result["within_1s"] is True
    get = next(r for r in receiver.requests if r.method == "GET")
    assert set(get.query) == {"msg_signature", "timestamp", "nonce", "echostr"}

    receiver.behaviour.crypto = None
    assert control.verify_url(corp["corp_id"], "customer_contact")["matched"] is False
