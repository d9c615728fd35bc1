"""Injected faults per API path: errcodes, latency, HTTP 5xx; limited with `times`."""

import time

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from wecom_sandbox.testing import SandboxControlError


def test_errcode_fault_for_the_next_calls(client, control):
    control.set_faults(
        {"externalcontact/get_follow_user_list": {"error_rate": 1, "errcode": 45033, "times": 2}}
    )
    for _ in range(2):
        with pytest.raises(WeChatClientException) as raised:
            client.external_contact.get_follow_user_list()
        assert raised.value.errcode == 45033
        assert "concurrent" in raised.value.errmsg
    # `times` used up: the fault is gone.
    assert client.external_contact.get_follow_user_list()["errcode"] == 0
    # Other paths were never affected.
    assert control.get_faults()["apis"] == {}


def test_system_busy_everywhere(client, control):
    control.set_faults({"*": {"error_rate": 1, "errcode": -1}})
    with pytest.raises(WeChatClientException) as raised:
        client.user.get("guide00001")
    assert raised.value.errcode == -1
    control.clear_faults()
    client.user.get("guide00001")


def test_latency(client, control):
    control.set_faults({"user/get": {"latency_ms": 300}})
    started = time.monotonic()
    client.user.get("guide00001")
    assert time.monotonic() - started >= 0.3


def test_reply_latency_comes_after_the_call_was_carried_out(sandbox, control, corp, secret):
    token = requests.get(
        sandbox.api_base_url + "gettoken",
        params={"corpid": corp["corp_id"], "corpsecret": secret},
        timeout=5,
    ).json()["access_token"]
    control.set_faults({"externalcontact/add_corp_tag": {"reply_latency_ms": 800}})
    # a client that gives up before the answer cannot know the tag was created
    with pytest.raises(requests.Timeout):
        requests.post(
            sandbox.api_base_url + "externalcontact/add_corp_tag",
            params={"access_token": token},
            json={"group_name": "会员", "tag": [{"name": "金卡"}]},
            timeout=0.3,
        )
    control.clear_faults()
    tags = requests.post(
        sandbox.api_base_url + "externalcontact/get_corp_tag_list",
        params={"access_token": token},
        json={},
        timeout=5,
    ).json()["tag_group"]
    assert [t["name"] for g in tags for t in g["tag"]] == ["金卡"]


def test_http_5xx(sandbox, client, control):
    control.set_faults({"user/get": {"http_error_rate": 1, "http_status": 502}})
    with pytest.raises(WeChatClientException) as raised:
        client.user.get("guide00001")
    assert raised.value.errcode is None
    assert raised.value.response.status_code == 502


def test_error_rate_is_a_rate(sandbox, client, control, corp, secret):
    token = requests.get(
        sandbox.api_base_url + "gettoken",
        params={"corpid": corp["corp_id"], "corpsecret": secret},
        timeout=5,
    ).json()["access_token"]
    control.set_faults({"department/list": {"error_rate": 0.5, "errcode": -1}})
    session = requests.Session()
    codes = [
        session.get(
            sandbox.api_base_url + "department/list", params={"access_token": token}, timeout=5
        ).json()["errcode"]
        for _ in range(200)
    ]
    assert 40 < codes.count(-1) < 160
    assert set(codes) == {0, -1}


def test_a_mix_of_errcodes_and_5xx_statuses_with_counts(sandbox, control, corp, secret):
    token = requests.get(
        sandbox.api_base_url + "gettoken",
        params={"corpid": corp["corp_id"], "corpsecret": secret},
        timeout=5,
    ).json()["access_token"]
    control.set_faults(
        {
            "department/list": {
                "error_rate": 0.5,
                "errcodes": [-1, 45009],
                "http_error_rate": 0.2,
                "http_statuses": [500, 502],
            }
        }
    )
    session = requests.Session()
    answers = []
    for _ in range(300):
        response = session.get(
            sandbox.api_base_url + "department/list", params={"access_token": token}, timeout=5
        )
        answers.append(
            response.status_code if response.status_code != 200 else response.json()["errcode"]
        )
    # every kind of the mix shows up, and nothing else
    assert set(answers) == {0, -1, 45009, 500, 502}
    injected = control.get_faults()["injected"]
    assert injected["calls"] == 300
    for kind, answer in (("errcode -1", -1), ("errcode 45009", 45009), ("http 500", 500)):
        assert injected[kind] == answers.count(answer)
    assert injected["http 502"] == answers.count(502)
    # setting the faults again starts the counts from zero
    control.set_faults({})
    assert control.get_faults()["injected"] == {}


def test_latency_spikes_hit_a_share_of_calls(sandbox, control, corp, secret):
    token = requests.get(
        sandbox.api_base_url + "gettoken",
        params={"corpid": corp["corp_id"], "corpsecret": secret},
        timeout=5,
    ).json()["access_token"]
    control.set_faults({"department/list": {"latency_ms": 100, "latency_rate": 0.2}})
    session = requests.Session()
    slow = 0
    for _ in range(60):
        started = time.monotonic()
        session.get(
            sandbox.api_base_url + "department/list", params={"access_token": token}, timeout=5
        )
        slow += time.monotonic() - started >= 0.1
    spikes = control.get_faults()["injected"]["latency"]
    assert slow == spikes
    assert 2 <= spikes <= 30


def test_rates_and_statuses_are_checked(control):
    for bad in (
        {"latency_rate": 1.5},
        {"http_error_rate": 0.1, "http_statuses": [503, 404]},
    ):
        with pytest.raises(SandboxControlError) as raised:
            control.set_faults({"*": bad})
        assert raised.value.status == 400
