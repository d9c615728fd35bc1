"""Guide sign-in through the sandbox's OAuth2, the guide session token, who may see which
customer, and the JS-SDK signature (the published worked example, and the sandbox agrees)."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import override_settings
from django_tenants.utils import schema_context

from contacts import sync
from contacts.models import SyncRun
from scrm.wecom.jssdk import signature
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from sidebar.auth import TOKEN_HEADER

CORP_ID = "wwsidebartest001"


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    control = wecom_sandbox.control
    control.set_trusted_domains(CORP_ID, ["alpha.localhost"])
    for userid in ("amy", "bob"):
        control.add_member(CORP_ID, userid, name=f"导购{userid}", notify=False)
    control.add_customer(
        CORP_ID,
        external_userid="wmAMY0001",
        name="王小姐",
        follows=[{"userid": "amy", "remark": "VIP 王", "remark_mobiles": ["13800000001"]}],
    )
    control.add_customer(CORP_ID, external_userid="wmBOB0001", follows=[{"userid": "bob"}])
    with schema_context("alpha"):
        run = SyncRun.objects.create(trigger="test")
        assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE
    return control


def wecom_redirect(client_a, wecom_sandbox, userid: str, next_path: str = "/sidebar/") -> str:
    """Start at /sidebar/login, let the sandbox's authorize page sign `userid` in; returns
    the callback URL WeCom sends the browser to."""
    start = client_a.get("/sidebar/login/", {"next": next_path})
    assert start.status_code == 302
    authorize = start["Location"].replace("#wechat_redirect", "")
    assert authorize.startswith(wecom_sandbox.url + "/connect/oauth2/authorize?")
    answer = requests.get(
        authorize, params={"sandbox_userid": userid}, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def sign_in(client_a, wecom_sandbox, userid: str = "amy") -> str:
    callback = wecom_redirect(client_a, wecom_sandbox, userid)
    landed = client_a.get(callback)
    assert landed.status_code == 302
    assert landed["Location"].startswith("/sidebar/#t=")
    return landed["Location"].split("#t=", 1)[1]


def test_a_guide_signs_in_through_oauth_and_sees_their_customer(corp, client_a, wecom_sandbox):
    token = sign_in(client_a, wecom_sandbox)
    answer = client_a.get(
        "/sidebar/api/customers/wmAMY0001/",
        HTTP_ACCEPT="application/json",
        **{f"HTTP_{TOKEN_HEADER.upper().replace('-', '_')}": token},
    )
    assert answer.status_code == 200
    card = answer.json()["card"]
    assert card["name"] == "王小姐"
    assert card["remark"] == "VIP 王"
    assert [g["name"] for g in card["guides"]] == ["导购amy"]


def header(token: str) -> dict[str, str]:
    return {f"HTTP_{TOKEN_HEADER.upper().replace('-', '_')}": token}


def test_a_guide_cannot_read_a_customer_they_do_not_hold(corp, client_a, wecom_sandbox):
    token = sign_in(client_a, wecom_sandbox)
    answer = client_a.get("/sidebar/api/customers/wmBOB0001/", **header(token))
    assert answer.status_code == 403
    assert client_a.get("/sidebar/api/customers/wmNOBODY/", **header(token)).status_code == 404
    # no token, a forged one, or another brand's host: not signed in
    assert client_a.get("/sidebar/api/customers/wmAMY0001/").status_code == 401
    assert client_a.get("/sidebar/api/customers/wmAMY0001/", **header("forged")).status_code == 401


def test_a_token_is_bound_to_its_brand(corp, client_a, client_b, wecom_sandbox):
    token = sign_in(client_a, wecom_sandbox)
    assert client_b.get("/sidebar/api/customers/wmAMY0001/", **header(token)).status_code == 401


def test_a_session_expires(corp, client_a, wecom_sandbox):
    token = sign_in(client_a, wecom_sandbox)
    with override_settings(SIDEBAR_SESSION_SECONDS=-1):
        assert client_a.get("/sidebar/api/customers/wmAMY0001/", **header(token)).status_code == 401


def test_a_reused_forged_or_expired_code_is_refused(corp, client_a, wecom_sandbox):
    callback = wecom_redirect(client_a, wecom_sandbox, "amy")
    assert client_a.get(callback).status_code == 302
    assert client_a.get(callback).status_code == 403  # the same code again

    query = parse_qs(urlsplit(callback).query)
    forged = client_a.get(
        "/sidebar/oauth/callback/", {"code": "forged", "state": query["state"][0]}
    )
    assert forged.status_code == 403

    late = wecom_redirect(client_a, wecom_sandbox, "amy")
    corp.advance_clock(301)  # WeCom's codes last 5 minutes
    assert client_a.get(late).status_code == 403

    # a state not signed by us (a link crafted elsewhere) is refused before WeCom is asked
    crafted = client_a.get("/sidebar/oauth/callback/", {"code": "x", "state": "evil"})
    assert crafted.status_code == 400


def test_only_active_guides_sign_in(corp, client_a, wecom_sandbox):
    from contacts.models import Guide

    with schema_context("alpha"):
        Guide.objects.filter(userid="bob").update(status=Guide.Status.DEPARTED)
    callback = wecom_redirect(client_a, wecom_sandbox, "bob")
    assert client_a.get(callback).status_code == 403


def test_the_login_never_redirects_off_the_sidebar(corp, client_a, wecom_sandbox):
    callback = wecom_redirect(client_a, wecom_sandbox, "amy", next_path="https://evil.example/")
    landed = client_a.get(callback)
    assert landed["Location"].startswith("/sidebar/#t=")


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


def test_the_jssdk_config_is_accepted_by_the_client(corp, client_a, wecom_sandbox):
    token = sign_in(client_a, wecom_sandbox)
    page = "http://alpha.localhost/sidebar/"
    answer = client_a.get("/sidebar/api/jssdk-config/", {"url": page + "#x"}, **header(token))
    assert answer.status_code == 200
    signed = answer.json()
    call = {"page": "p", "userid": "amy", "external_userid": "wmAMY0001", "url": page}
    assert (
        corp.jssdk_call(CORP_ID, method="config", args=signed["config"], **call)["err_msg"]
        == "config:ok"
    )
    assert (
        corp.jssdk_call(CORP_ID, method="agentConfig", args=signed["agentConfig"], **call)[
            "err_msg"
        ]
        == "agentConfig:ok"
    )
    # a page of another site is not signed
    other = client_a.get(
        "/sidebar/api/jssdk-config/", {"url": "https://evil.example/"}, **header(token)
    )
    assert other.status_code == 400
    assert int(signed["config"]["timestamp"]) <= time.time() + 1
