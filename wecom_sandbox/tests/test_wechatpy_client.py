"""wechatpy 1.8.18's WeCom client works against the sandbox unchanged (only API_BASE_URL
and the hard-coded gettoken URL are pointed at it), and answers match WeCom's shapes."""

import io

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from wecom_sandbox.tests import schemas
from wecom_sandbox.tests.schemas import validate


def test_contacts_and_customers_through_wechatpy(client, control, corp):
    corp_id = corp["corp_id"]
    customer = control.add_customer(
        corp_id,
        follows=[{"userid": "guide00001", "remark": "王姐", "state": "store-1"}],
        name="王小美",
        unionid="o-union-1",
    )
    external_userid = customer["external_userid"]

    assert client.external_contact.get_follow_user_list()["follow_user"] == [
        "guide00001",
        "guide00002",
        "guide00003",
    ]
    assert client.external_contact.list("guide00001")["external_userid"] == [external_userid]
    detail = client.external_contact.get(external_userid)
    validate(detail, schemas.GET_CUSTOMER)
    assert detail["external_contact"]["name"] == "王小美"
    assert detail["follow_user"][0]["remark"] == "王姐"
    assert detail["follow_user"][0]["state"] == "store-1"

    assert client.user.get("guide00002")["userid"] == "guide00002"
    assert {d["id"] for d in client.department.get()} == {1, 2, 3}
    users = client.user.list(1, fetch_child=True, simple=True)
    assert len(users) == 3


def test_errors_raise_wechatpy_exceptions(client):
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.get("wmDoesNotExist")
    assert raised.value.errcode == 40096
    validate(raised.value.response.json(), schemas.ERROR)

    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.list("guide00003")  # a member without customers
    assert raised.value.errcode == 84061

    with pytest.raises(WeChatClientException) as raised:
        client.user.get("nobody")
    assert raised.value.errcode == 60111


def test_unknown_path_is_http_404(client, sandbox):
    with pytest.raises(WeChatClientException) as raised:
        client.get("externalcontact/no_such_api")
    assert raised.value.errcode is None
    assert raised.value.response.status_code == 404


def test_contact_way_is_an_object(client):
    added = client.external_contact.add_contact_way(
        type=2, scene=2, remark="门店海报", state="poster-01", user=["guide00001", "guide00002"]
    )
    assert added["qr_code"].startswith("https://")
    got = client.external_contact.get_contact_way(added["config_id"])
    validate(got, schemas.GET_CONTACT_WAY)
    assert got["contact_way"]["state"] == "poster-01"
    assert got["contact_way"]["user"] == ["guide00001", "guide00002"]

    client.external_contact.update_contact_way(
        added["config_id"], remark="新海报", state="poster-02"
    )
    assert client.external_contact.get_contact_way(added["config_id"])["contact_way"]["state"] == (
        "poster-02"
    )
    listed = client.post("externalcontact/list_contact_way", data={"limit": 100})
    assert {"config_id": added["config_id"]} in listed["contact_way"]
    client.external_contact.del_contact_way(added["config_id"])
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.get_contact_way(added["config_id"])
    assert raised.value.errcode == 41044


def test_corp_tags_and_batch_get_by_user(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=7)
    added = client.external_contact.add_corp_tag(
        None, "会员等级", 1, [{"name": "金卡"}, {"name": "银卡", "order": 2}]
    )
    gold, silver = (tag["id"] for tag in added["tag_group"]["tag"])
    tag_list = client.external_contact.get_corp_tag_list()
    validate(tag_list, schemas.CORP_TAG_LIST)
    assert [t["name"] for t in tag_list["tag_group"][0]["tag"]] == ["银卡", "金卡"]  # order desc
    only_gold = client.post("externalcontact/get_corp_tag_list", data={"tag_id": [gold]})
    assert [t["id"] for t in only_gold["tag_group"][0]["tag"]] == [gold]

    external_userid = control.customers(corp_id, userid="guide00001")[0]
    client.external_contact.mark_tag("guide00001", external_userid, add_tag=[gold, silver])
    detail = client.external_contact.get(external_userid)
    assert {t["tag_name"] for t in detail["follow_user"][0]["tags"]} == {"金卡", "银卡"}

    first = client.post(
        "externalcontact/batch/get_by_user",
        data={"userid_list": ["guide00001", "guide00002"], "limit": 3},
    )
    validate(first, schemas.BATCH_GET_BY_USER)
    assert len(first["external_contact_list"]) == 3
    seen = [item["external_contact"]["external_userid"] for item in first["external_contact_list"]]
    cursor = first["next_cursor"]
    while cursor:
        more = client.post(
            "externalcontact/batch/get_by_user",
            data={"userid_list": ["guide00001", "guide00002"], "limit": 3, "cursor": cursor},
        )
        seen += [i["external_contact"]["external_userid"] for i in more["external_contact_list"]]
        cursor = more["next_cursor"]
    # 7 customers round-robin over 3 guides: guides 1 and 2 have 3 + 2.
    assert len(seen) == len(set(seen)) == 5
    tagged = next(
        i
        for i in first["external_contact_list"]
        if i["external_contact"]["external_userid"] == external_userid
    )
    assert set(tagged["follow_info"]["tag_id"]) == {gold, silver}

    client.external_contact.del_corp_tag(tag_id=[gold])
    assert [
        t["tag_id"] for t in client.external_contact.get(external_userid)["follow_user"][0]["tags"]
    ] == [silver]


def test_batch_get_by_user_limits(client):
    with pytest.raises(WeChatClientException) as raised:
        client.post(
            "externalcontact/batch/get_by_user",
            data={"userid_list": [f"u{i}" for i in range(101)]},
        )
    assert raised.value.errcode == 40058
    assert "userid_list" in raised.value.errmsg
    # A limit above 100 is clamped, not refused.
    assert (
        client.post(
            "externalcontact/batch/get_by_user", data={"userid_list": ["guide00001"], "limit": 1000}
        )["next_cursor"]
        == ""
    )


def test_media_upload_and_app_message(client, control, corp):
    uploaded = client.media.upload("image", ("poster.png", io.BytesIO(b"\x89PNG fake image")))
    assert uploaded["type"] == "image"
    assert uploaded["media_id"]
    assert uploaded["created_at"].isdigit()

    sent = client.message.send_text(1000002, "guide00001|ghost", "你有新客户")
    assert sent["invaliduser"] == "ghost"
    messages = control.member_messages(corp["corp_id"], "guide00001")
    assert messages[-1]["content"] == {"content": "你有新客户"}
    with pytest.raises(WeChatClientException) as raised:
        client.message.send_text(999, "guide00001", "wrong agent")
    assert raised.value.errcode == 40056


def test_group_chats(client, control, corp):
    corp_id = corp["corp_id"]
    customer = control.add_customer(corp_id, follows=[{"userid": "guide00001"}], unionid="o-u")
    chat = control.create_group_chat(
        corp_id,
        "guide00001",
        name="VIP群",
        members=["guide00002"],
        external_userids=[customer["external_userid"]],
    )
    chats = client.external_contact_group_chat.list_all()
    assert chats == [{"chat_id": chat["chat_id"], "status": 0}]
    detail = client.external_contact_group_chat.get(chat["chat_id"])["group_chat"]
    assert detail["owner"] == "guide00001"
    assert [m["type"] for m in detail["member_list"]] == [1, 1, 2]
    assert detail["member_list"][2]["unionid"] == "o-u"


def test_keep_alive(sandbox, corp, secret):
    session = requests.Session()
    for _ in range(5):
        answer = session.get(
            sandbox.api_base_url + "gettoken",
            params={"corpid": corp["corp_id"], "corpsecret": secret},
            timeout=5,
        )
        assert answer.json()["errcode"] == 0
        assert answer.headers.get("Connection", "keep-alive").lower() != "close"


def test_list_id_and_simplelist(client, control, corp):
    control.seed(corp["corp_id"], members=4, member_prefix="extra")
    first = client.post("user/list_id", data={"limit": 5})
    assert len(first["dept_user"]) == 5
    rest = client.post("user/list_id", data={"limit": 5, "cursor": first["next_cursor"]})
    assert rest["next_cursor"] == ""
    assert len({d["userid"] for d in first["dept_user"] + rest["dept_user"]}) == 7
    departments = client.get("department/simplelist", params={"id": 2})["department_id"]
    assert departments == [{"id": 2, "parentid": 1, "order": 1000}]
