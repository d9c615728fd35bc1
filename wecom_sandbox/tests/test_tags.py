"""Corp tag rules: names ≤ 30 characters, 3,000 tags per corp, console edits send
change_external_tag while API edits send nothing."""

import pytest
from wechatpy.exceptions import WeChatClientException


def test_name_length_and_corp_limit(client, control):
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.add_corp_tag(None, "组", 0, [{"name": "长" * 31}])
    assert raised.value.errcode == 40058
    client.external_contact.add_corp_tag(None, "组", 0, [{"name": "长" * 30}])

    control.set_limits(corp_tag_limit=3)
    group = client.external_contact.add_corp_tag(None, "颜色", 0, [{"name": "红"}, {"name": "绿"}])
    group_id = group["tag_group"]["group_id"]
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.add_corp_tag(group_id, None, 0, [{"name": "蓝"}])
    assert raised.value.errcode == 40126
    # An existing name is answered with the existing tag, not counted again.
    again = client.external_contact.add_corp_tag(group_id, None, 0, [{"name": "红"}])
    assert again["tag_group"]["tag"][0]["id"] == group["tag_group"]["tag"][0]["id"]


def test_edit_and_delete_group(client):
    group = client.external_contact.add_corp_tag(None, "渠道", 5, [{"name": "抖音"}])["tag_group"]
    client.external_contact.edit_corp_tag(group["group_id"], "来源渠道", 9)
    listed = client.external_contact.get_corp_tag_list()["tag_group"]
    assert [(g["group_name"], g["order"]) for g in listed] == [("来源渠道", 9)]
    client.external_contact.del_corp_tag(group_id=[group["group_id"]])
    assert client.external_contact.get_corp_tag_list()["tag_group"] == []
    with pytest.raises(WeChatClientException) as raised:
        client.external_contact.edit_corp_tag(group["group_id"], "x", 0)
    assert raised.value.errcode == 40068


def test_console_edits_send_change_external_tag(client, control, corp):
    corp_id = corp["corp_id"]
    client.external_contact.add_corp_tag(None, "api组", 0, [{"name": "api标签"}])
    created = control.console_corp_tags(corp_id, "create", group_name="后台组", tags=["后台标签"])
    deliveries = control.wait_for_callbacks(corp_id, 2)
    events = [d["event"] for d in deliveries]
    assert [(e["Event"], e["TagType"], e["ChangeType"]) for e in events] == [
        ("change_external_tag", "tag_group", "create"),
        ("change_external_tag", "tag", "create"),
    ]
    assert events[1]["Id"] == created["tag_ids"][0]
    names = {g["group_name"] for g in client.external_contact.get_corp_tag_list()["tag_group"]}
    assert names == {"api组", "后台组"}
