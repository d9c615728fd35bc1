"""gettoken: one token per app (secret), valid for `token_ttl_seconds` of sandbox time."""

from typing import Any

from wecom_sandbox import identifiers
from wecom_sandbox.errors import WeComError
from wecom_sandbox.state import Token
from wecom_sandbox.wecom_api.routing import ApiCall, api

# Older tokens of an app stay valid until they expire (several workers may each hold one);
# past this many the oldest are forgotten.
TOKENS_KEPT_PER_APP = 50


@api("gettoken", needs_token=False)
def gettoken(call: ApiCall) -> dict[str, Any]:
    corp_id = call.string("corpid", required=True, errcode=41002)
    secret = call.string("corpsecret", required=True, errcode=41004)
    state = call.sandbox.state
    corp = state.corps.get(corp_id)
    if corp is None:
        raise WeComError(40013)
    app = next((a for a in corp.apps.values() if a.secret == secret), None)
    if app is None:
        raise WeComError(40001)
    ttl = call.sandbox.quotas.token_ttl_seconds
    token = identifiers.access_token()
    state.tokens[token] = Token(corp.corp_id, app.name, call.sandbox.clock.now() + ttl)
    _forget_old_tokens(call, corp.corp_id, app.name)
    return {"access_token": token, "expires_in": ttl}


def _forget_old_tokens(call: ApiCall, corp_id: str, app_name: str) -> None:
    tokens = call.sandbox.state.tokens
    mine = [key for key, t in tokens.items() if t.corp_id == corp_id and t.app_name == app_name]
    for key in mine[:-TOKENS_KEPT_PER_APP]:
        del tokens[key]
