"""send_welcome_msg: the code from the add event is good for 20 s and one use."""

import time
from typing import Any

from wecom_sandbox.errors import WeComError
from wecom_sandbox.message_content import check_message
from wecom_sandbox.records import Receipt
from wecom_sandbox.rules import WELCOME_CODE_TTL_SECONDS
from wecom_sandbox.wecom_api.routing import ApiCall, api


@api("externalcontact/send_welcome_msg", customer_contact=True)
def send_welcome_msg(call: ApiCall) -> dict[str, Any]:
    corp = call.corp
    code_value = call.string("welcome_code", required=True, errcode=41049)
    code = corp.welcome_codes.get(code_value)
    # UNCONFIRMED: the errcode for an unknown, expired or used code; 84071 is the global
    # table's "invalid external-contact auth code (illegal or already consumed)".
    if code is None:
        raise WeComError(84071, "invalid welcome_code")
    code.calls += 1
    if code.used:
        raise WeComError(84071, "welcome_code already consumed")
    if call.now - code.created_at > WELCOME_CODE_TTL_SECONDS:
        raise WeComError(84071, "welcome_code expired")
    content, attachments = check_message(
        corp, call.param("text"), call.param("attachments"), call.now
    )
    code.used = True
    code.welcomed_at = time.time()
    corp.received.setdefault(code.external_userid, []).append(
        Receipt("welcome", call.now, code.userid, "", content, attachments)
    )
    return {}
