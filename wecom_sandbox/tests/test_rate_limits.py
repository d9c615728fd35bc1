"""Frequency limits: sliding windows per corp / per IP / per API → 45009."""

import time

import pytest
from wechatpy.exceptions import APILimitedException


def test_per_corp_limit_45009_then_window_frees(client, control):
    control.set_limits(per_corp={"limit": 5, "window_seconds": 1})
    for _ in range(5):
        client.user.get("guide00001")
    with pytest.raises(APILimitedException) as raised:
        client.user.get("guide00001")
    assert raised.value.errcode == 45009
    # Another API path has its own counter.
    client.department.get()
    time.sleep(1.1)
    client.user.get("guide00001")


def test_per_api_override(client, control):
    control.set_limits(
        per_api={"externalcontact/get_follow_user_list": {"limit": 2, "window_seconds": 5}}
    )
    client.external_contact.get_follow_user_list()
    client.external_contact.get_follow_user_list()
    with pytest.raises(APILimitedException):
        client.external_contact.get_follow_user_list()
    for _ in range(5):
        client.user.get("guide00001")


def test_per_ip_limit_spans_corps(sandbox, client, control):
    from wecom_sandbox.testing import wechatpy_client

    control.set_limits(per_ip={"limit": 4, "window_seconds": 5})
    other = control.create_corp()
    other_client = wechatpy_client(
        sandbox.api_base_url, other["corp_id"], other["apps"]["customer_contact"]["secret"]
    )
    client.department.get()
    client.department.get()
    other_client.department.get()
    other_client.department.get()
    with pytest.raises(APILimitedException):
        other_client.department.get()


def test_defaults_are_wecoms(control):
    limits = control.get_limits()
    assert limits["per_corp"][0] == {"limit": 10000, "window_seconds": 60}
    assert limits["per_ip"][0] == {"limit": 20000, "window_seconds": 60}
