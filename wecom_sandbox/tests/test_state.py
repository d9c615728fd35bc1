"""Save / load round trip, through the control API and through --state across a restart."""

from wecom_sandbox.testing import SandboxProcess, wechatpy_client


def _world(control, client, corp_id):
    """A bit of everything, returned as what the API shows."""
    tags = client.external_contact.add_corp_tag(None, "等级", 0, [{"name": "金"}])["tag_group"]
    tag_id = tags["tag"][0]["id"]
    way = client.external_contact.add_contact_way(type=1, scene=2, state="st", user=["guide00001"])
    scan = control.scan(corp_id, way["config_id"], name="甲")
    client.external_contact.mark_tag("guide00001", scan["external_userid"], add_tag=[tag_id])
    client.external_contact.send_welcome_msg(
        {"welcome_code": scan["welcome_code"], "text": {"content": "hi"}}
    )
    control.seed(corp_id, customers=50)
    return scan["external_userid"], way["config_id"]


def _snapshot(client, control, corp_id, external_userid, config_id):
    return {
        "customer": client.external_contact.get(external_userid),
        "way": client.external_contact.get_contact_way(config_id),
        "tags": client.external_contact.get_corp_tag_list(),
        "batch": client.post(
            "externalcontact/batch/get_by_user",
            data={"userid_list": ["guide00001", "guide00002", "guide00003"], "limit": 100},
        )["external_contact_list"],
        "received": control.received(corp_id, external_userid),
        "counts": control.corp(corp_id)["counts"],
    }


def test_save_then_load_restores_everything(tmp_path, client, control, corp):
    corp_id = corp["corp_id"]
    external_userid, config_id = _world(control, client, corp_id)
    before = _snapshot(client, control, corp_id, external_userid, config_id)
    path = tmp_path / "state.json"
    saved = control.save_state(path)
    assert saved["bytes"] > 0

    control.seed(corp_id, customers=10)  # changes after the save are undone by the load
    control.load_state(path)

    # The token from before the save is in the file too: the same client keeps working.
    after = _snapshot(client, control, corp_id, external_userid, config_id)
    assert after == before


def test_state_flag_survives_a_restart(tmp_path):
    path = tmp_path / "restart.json"
    with SandboxProcess.start(state_file=path) as first:
        corp = first.control.create_corp(corp_id="wwrestart")
        first.control.seed("wwrestart", members=2, customers=20)
        first.control.advance_clock(3600)
        offset = first.control.clock()["offset"]
    assert path.exists()  # written on SIGTERM
    with SandboxProcess.start(state_file=path) as second:
        client = wechatpy_client(
            second.api_base_url, "wwrestart", corp["apps"]["customer_contact"]["secret"]
        )
        assert len(client.external_contact.list("guide00001")["external_userid"]) == 10
        assert second.control.clock()["offset"] == offset
