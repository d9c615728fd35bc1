"""The client's side in the sandbox: OAuth2 (trusted domains, single-use codes that expire),
JS-SDK tickets, signatures checked like WeCom checks them, and the chat window's calls."""

import time

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from wecom_sandbox.jssdk import signature


def test_the_published_worked_example_of_the_signature():
    assert (
        signature(
            ticket="sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
            noncestr="Wm3WZYTPz0wzccnW",
            timestamp="1414587457",
            url="http://mp.weixin.qq.com?params=value",
        )
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


@pytest.fixture
def trusted(control, corp):
    control.set_trusted_domains(corp["corp_id"], ["brand.example"])
    return corp["corp_id"]


def authorize(sandbox, corp_id, redirect_uri, **extra):
    return requests.get(
        sandbox.url + "/connect/oauth2/authorize",
        params={
            "appid": corp_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": "s1",
            **extra,
        },
        allow_redirects=False,
        timeout=5,
    )


def test_authorize_redirects_with_a_code_the_server_exchanges_once(
    sandbox, control, client, trusted
):
    answer = authorize(
        sandbox, trusted, "https://shop.brand.example/sidebar/cb?x=1", sandbox_userid="guide00001"
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith("https://shop.brand.example/sidebar/cb?x=1&code=")
    assert location.endswith("&state=s1")
    code = location.split("code=")[1].split("&")[0]

    assert client.get("auth/getuserinfo", params={"code": code})["userid"] == "guide00001"
    with pytest.raises(WeChatClientException) as reused:
        client.get("auth/getuserinfo", params={"code": code})
    assert reused.value.errcode == 40029
    with pytest.raises(WeChatClientException) as forged:
        client.get("auth/getuserinfo", params={"code": "forged"})
    assert forged.value.errcode == 40029


def test_an_expired_code_is_refused(control, client, trusted):
    code = control.oauth_code(trusted, "guide00001")
    control.advance_clock(301)
    with pytest.raises(WeChatClientException) as expired:
        client.get("auth/getuserinfo", params={"code": code})
    assert expired.value.errcode == 40029


def test_an_untrusted_redirect_is_refused(sandbox, trusted):
    answer = authorize(sandbox, trusted, "https://evil.example/cb", sandbox_userid="guide00001")
    assert answer.status_code == 400
    assert "50001" in answer.text


def test_without_a_signed_in_member_the_page_offers_the_members(sandbox, trusted):
    answer = authorize(sandbox, trusted, "https://brand.example/cb")
    assert answer.status_code == 200
    assert "sandbox_userid=guide00001" in answer.text


def test_config_agent_config_and_invoke_as_the_client_checks_them(sandbox, control, client, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=1)
    external_userid = control.customers(corp_id, userid="guide00001")[0]
    ticket = client.get("get_jsapi_ticket")["ticket"]
    agent_ticket = client.get("ticket/get", params={"type": "agent_config"})["ticket"]
    url = "https://brand.example/sidebar/c/1/"
    now = str(int(time.time()))
    page = {
        "page": "p1",
        "userid": "guide00001",
        "external_userid": external_userid,
        "url": url + "#x",
    }

    early = control.jssdk_call(
        corp_id, method="invoke", args={"name": "getCurExternalContact"}, **page
    )
    assert early["err_msg"].startswith("getCurExternalContact:fail")
    bad = control.jssdk_call(
        corp_id,
        method="config",
        args={"appId": corp_id, "timestamp": now, "nonceStr": "n", "signature": "0" * 40},
        **page,
    )
    assert bad["err_msg"] == "config:invalid signature"
    good = signature(ticket=ticket, noncestr="n", timestamp=now, url=url)
    assert (
        control.jssdk_call(
            corp_id,
            method="config",
            args={"appId": corp_id, "timestamp": now, "nonceStr": "n", "signature": good},
            **page,
        )["err_msg"]
        == "config:ok"
    )
    agent_sig = signature(ticket=agent_ticket, noncestr="m", timestamp=now, url=url)
    assert (
        control.jssdk_call(
            corp_id,
            method="agentConfig",
            args={
                "corpid": corp_id,
                "agentid": corp["apps"]["customer_contact"]["agent_id"],
                "timestamp": now,
                "nonceStr": "m",
                "signature": agent_sig,
            },
            **page,
        )["err_msg"]
        == "agentConfig:ok"
    )
    current = control.jssdk_call(
        corp_id, method="invoke", args={"name": "getCurExternalContact"}, **page
    )
    assert current == {"err_msg": "getCurExternalContact:ok", "userId": external_userid}
    sent = control.jssdk_call(
        corp_id,
        method="invoke",
        args={"name": "sendChatMessage", "args": {"msgtype": "text", "text": {"content": "您好"}}},
        **page,
    )
    assert sent["err_msg"] == "sendChatMessage:ok"
    assert [m["text"] for m in control.received(corp_id, external_userid)["messages"]] == ["您好"]
    assert [c["method"] for c in control.jssdk_calls(corp_id)][-1] == "invoke"


def test_the_chat_window_hosts_the_sidebar_and_signs_the_member_in(sandbox, control, corp):
    corp_id = corp["corp_id"]
    url = control.chat_url(corp_id, "guide00001", "", "https://brand.example/sidebar/")
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200
    assert "iframe" in answer.text
    assert "sandbox_client_userid=guide00001" in answer.headers["Set-Cookie"]
    assert "SameSite=None" in answer.headers["Set-Cookie"]
    script = requests.get(sandbox.url + "/client/jweixin.js", timeout=5)
    assert "window.wx" in script.text
