"""Scan loads: the sandbox fires scans on a fixed schedule and reports, per scan, when the
callback went out and when the welcome was taken."""

import pytest
from wechatpy.exceptions import WeChatClientException

from wecom_sandbox.testing import SandboxControlError
from wecom_sandbox.tests.receiver import decrypt


@pytest.fixture
def way(client):
    return client.external_contact.add_contact_way(
        type=2, scene=2, state="load-test", user=["guide00001", "guide00002"]
    )


@pytest.fixture
def wired(control, corp, receiver):
    return control.set_callback(corp["corp_id"], "customer_contact", receiver.url)


def test_a_load_fires_on_schedule_and_reports_each_scan(
    control, corp, client, way, wired, receiver
):
    corp_id = corp["corp_id"]

    # given a load of 20 scans per second for one second
    started = control.scan_load(corp_id, way["config_id"], rate=20, seconds=1, name_prefix="压测")
    assert started["planned"] == 20
    done = control.wait_for_scan_load(corp_id, started["load_id"], timeout=10)
    assert (done["status"], done["fired"], done["error_count"]) == ("done", 20, 0)

    # every scan is a new customer with its add event and welcome code
    posts = receiver.wait_for_posts(20)
    events = [decrypt(p, wired["token"], wired["encoding_aes_key"], corp_id) for p in posts]
    codes = {e["ExternalUserID"]: e["WelcomeCode"] for e in events}
    assert len(codes) == 20
    assert {e["State"] for e in events} == {"load-test"}

    # when the platform welcomes three of them, one of them twice
    welcomed = list(codes)[:3]
    for external_userid in welcomed:
        client.external_contact.send_welcome_msg(
            {"welcome_code": codes[external_userid], "text": {"content": "欢迎"}}
        )
    with pytest.raises(WeChatClientException):
        client.external_contact.send_welcome_msg(
            {"welcome_code": codes[welcomed[0]], "text": {"content": "again"}}
        )

    # then the report has one row per scan, fired one twentieth of a second apart
    report = control.scan_load_status(corp_id, started["load_id"], rows=True)
    rows = {row["external_userid"]: row for row in report["scans"]}
    assert set(rows) == set(codes)
    fired = sorted(row["fired_at"] for row in rows.values())
    assert 0.85 <= fired[-1] - fired[0] <= 2.0
    for row in rows.values():
        assert row["userid"] in ("guide00001", "guide00002")
        assert row["callback_status"] == "delivered"
        assert row["fired_at"] <= row["callback_sent_at"] <= row["callback_acked_at"]
    # the welcomes taken, with their time; the second call on one code is counted
    for external_userid, row in rows.items():
        if external_userid in welcomed:
            assert row["welcome_at"] >= row["callback_sent_at"]
            assert row["welcomes"] == 1
        else:
            assert (row["welcome_at"], row["welcomes"], row["welcome_calls"]) == (None, 0, 0)
    assert [rows[e]["welcome_calls"] for e in welcomed] == [2, 1, 1]
    assert "scans" not in control.scan_load_status(corp_id, started["load_id"])


def test_a_load_needs_a_known_way_a_rate_and_a_duration(control, corp, way):
    corp_id = corp["corp_id"]
    with pytest.raises(SandboxControlError) as raised:
        control.scan_load(corp_id, "no-such-way", rate=10, seconds=1)
    assert raised.value.status == 404
    for rate, seconds in ((0, 1), (10, 0), (20_000, 1)):
        with pytest.raises(SandboxControlError) as raised:
            control.scan_load(corp_id, way["config_id"], rate=rate, seconds=seconds)
        assert raised.value.status == 400
    with pytest.raises(SandboxControlError) as raised:
        control.scan_load_status(corp_id, 999_999)
    assert raised.value.status == 404
