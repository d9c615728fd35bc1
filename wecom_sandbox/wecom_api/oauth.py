"""OAuth2 codes exchanged for the member (auth/getuserinfo) and the JS-SDK tickets."""

from typing import Any

from wecom_sandbox import jssdk
from wecom_sandbox.errors import WeComError
from wecom_sandbox.wecom_api.routing import ApiCall, api


def _member_of_code(call: ApiCall) -> str:
    code = call.string("code", required=True, errcode=41008)
    userid = jssdk.code_redeem(call.corp, code, call.now)
    if userid is None:
        raise WeComError(40029)
    return userid


@api("auth/getuserinfo")
def auth_getuserinfo(call: ApiCall) -> dict[str, Any]:
    """The member who authorised: `userid` (WeCom's current API)."""
    return {"userid": _member_of_code(call)}


@api("user/getuserinfo")
def user_getuserinfo(call: ApiCall) -> dict[str, Any]:
    """The older path wechatpy 1.8.18 calls (UserId)."""
    return {"UserId": _member_of_code(call), "DeviceId": ""}


@api("get_jsapi_ticket")
def get_jsapi_ticket(call: ApiCall) -> dict[str, Any]:
    """The corp's jsapi_ticket, for wx.config."""
    return {"ticket": jssdk.ticket_issue(call.corp, call.now), "expires_in": jssdk.TICKET_TTL}


@api("ticket/get")
def ticket_get(call: ApiCall) -> dict[str, Any]:
    """The app's ticket (type=agent_config), for wx.agentConfig."""
    if call.string("type") != "agent_config":
        raise WeComError(40058, "type must be agent_config")
    app = call.app
    if app is None or app.agent_id is None:
        raise WeComError(40058, "this app has no AgentId")
    ticket = jssdk.ticket_issue(call.corp, call.now, agent_id=app.agent_id)
    return {"ticket": ticket, "expires_in": jssdk.TICKET_TTL}
