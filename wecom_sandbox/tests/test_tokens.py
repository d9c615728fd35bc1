"""gettoken and access_token checks: 40013 / 40001 / 41001 / 40014 / 42001 / 48002."""

import requests

from wecom_sandbox.testing import wechatpy_client
from wecom_sandbox.tests import schemas
from wecom_sandbox.tests.schemas import validate


def _get(sandbox, path, **params):
    return requests.get(sandbox.api_base_url + path, params=params, timeout=5).json()


def test_gettoken_shape_and_errors(sandbox, corp, secret):
    corp_id = corp["corp_id"]
    answer = _get(sandbox, "gettoken", corpid=corp_id, corpsecret=secret)
    validate(answer, schemas.GETTOKEN)
    assert answer["expires_in"] == 7200

    unknown_corp = _get(sandbox, "gettoken", corpid="wwnope", corpsecret=secret)
    validate(unknown_corp, schemas.ERROR)
    assert unknown_corp["errcode"] == 40013
    assert _get(sandbox, "gettoken", corpid=corp_id, corpsecret="wrong")["errcode"] == 40001


def test_each_app_has_its_own_token(sandbox, corp):
    corp_id = corp["corp_id"]
    sync_secret = corp["apps"]["contacts_sync"]["secret"]
    sync_token = _get(sandbox, "gettoken", corpid=corp_id, corpsecret=sync_secret)["access_token"]
    # The contacts-sync secret reads the contact book but not customers.
    assert _get(sandbox, "user/get", access_token=sync_token, userid="guide00001")["errcode"] == 0
    denied = _get(sandbox, "externalcontact/get_follow_user_list", access_token=sync_token)
    assert denied["errcode"] == 48002


def test_missing_unknown_and_expired_tokens(sandbox, control, corp, secret):
    assert _get(sandbox, "user/get", userid="guide00001")["errcode"] == 41001
    assert _get(sandbox, "user/get", access_token="x" * 64, userid="guide00001")["errcode"] == 40014
    token = _get(sandbox, "gettoken", corpid=corp["corp_id"], corpsecret=secret)["access_token"]
    assert _get(sandbox, "user/get", access_token=token, userid="guide00001")["errcode"] == 0

    control.advance_clock(7201)

    expired = _get(sandbox, "user/get", access_token=token, userid="guide00001")
    validate(expired, schemas.ERROR)
    assert expired["errcode"] == 42001
    assert "access_token expired" in expired["errmsg"]


def test_token_ttl_is_configurable(sandbox, control, corp, secret):
    control.set_limits(token_ttl_seconds=60)
    answer = _get(sandbox, "gettoken", corpid=corp["corp_id"], corpsecret=secret)
    assert answer["expires_in"] == 60
    control.advance_clock(61)
    assert _get(sandbox, "user/get", access_token=answer["access_token"], userid="x")[
        "errcode"
    ] == (42001)


def test_wechatpy_refetches_after_expiry(sandbox, control, corp, secret):
    client = wechatpy_client(sandbox.api_base_url, corp["corp_id"], secret, timeout=5)
    client.user.get("guide00001")
    first_token = client.access_token
    control.advance_clock(7300)
    # wechatpy's own clock says the token is fresh; the sandbox answers 42001 and
    # wechatpy's auto_retry fetches a new one and repeats the call.
    assert client.user.get("guide00001")["userid"] == "guide00001"
    assert client.access_token != first_token
