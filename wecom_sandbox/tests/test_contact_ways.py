"""「联系我」 validation: WeCom's errcodes for bad type / scene / state / users, and quota."""

import pytest
from wechatpy.exceptions import WeChatClientException


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"scene": 2, "user": ["guide00001"]}, 41037),
        ({"type": 3, "scene": 2, "user": ["guide00001"]}, 41039),
        ({"type": 1, "scene": 3, "user": ["guide00001"]}, 41040),
        ({"type": 1, "scene": 2, "user": ["guide00001"], "state": "x" * 31}, 40058),
        ({"type": 1, "scene": 2, "user": ["guide00001", "guide00002"]}, 40058),
        ({"type": 2, "scene": 2, "user": ["nobody"]}, 60111),
        ({"type": 2, "scene": 2, "party": [999]}, 60123),
        ({"type": 1, "scene": 1, "style": 9, "user": ["guide00001"]}, 41042),
    ],
)
def test_add_contact_way_errors(client, body, errcode):
    with pytest.raises(WeChatClientException) as raised:
        client.post("externalcontact/add_contact_way", data=body)
    assert raised.value.errcode == errcode


def test_state_of_30_chars_is_fine_and_scene_1_has_no_qr(client):
    added = client.post(
        "externalcontact/add_contact_way",
        data={"type": 1, "scene": 1, "style": 1, "user": ["guide00001"], "state": "s" * 30},
    )
    assert "qr_code" not in added


def test_quota(client, control):
    control.set_limits(contact_way_quota=2)
    for _ in range(2):
        client.external_contact.add_contact_way(type=1, scene=2, user=["guide00001"])
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.add_contact_way(type=1, scene=2, user=["guide00001"])
    assert raised.value.errcode == 41045


def test_party_way_picks_department_members(client, control, corp):
    way = client.post("externalcontact/add_contact_way", data={"type": 2, "scene": 2, "party": [2]})
    userids = {control.scan(corp["corp_id"], way["config_id"])["userid"] for _ in range(10)}
    members = {u["userid"] for u in client.user.list(2, simple=True)}
    assert userids <= members
    assert userids
