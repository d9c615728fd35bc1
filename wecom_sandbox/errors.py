"""WeCom's error shape: an errcode plus an errmsg carrying a hint, the caller's IP and a link."""

import secrets
import time

# English texts in the style WeCom returns them; the official table gives Chinese only, so
# these are our wording. Clients must branch on errcode, never on errmsg.
ERRMSG = {
    -1: "system busy",
    40001: "invalid credential, secret is invalid",
    40003: "invalid userid",
    40005: "invalid media type",
    40006: "invalid file size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40029: "invalid code",
    40050: "chatid not found",
    40056: "invalid agentid",
    40058: "invalid Request Parameter",
    40068: "invalid tagid",
    40071: "invalid tag name",
    40096: "invalid external userid",
    40097: "the member has not resigned",
    40098: "the member is not real-name verified",
    40126: "corp tag count exceeds the limit of 3000",
    40128: "customer transferred too frequently",
    40129: "customer is being transferred",
    40130: "handover_userid is the same as takeover_userid",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41006: "media_id missing",
    41008: "missing oauth code",
    41009: "userid missing",
    41035: "external_userid missing",
    41037: "contact way type missing",
    41038: "contact way scene missing",
    41039: "invalid contact way type",
    41040: "invalid contact way scene",
    41041: "contact way user count exceeds the limit",
    41042: "invalid contact way style",
    41043: "contact way config_id missing",
    41044: "invalid contact way config_id",
    41045: "contact ways created by api reach the limit",
    41046: "msgid missing",
    41047: "invalid msgid",
    41048: "no customer to send",
    41049: "welcome_code missing",
    41051: "externaluser has started chatting",
    41096: "welcome msg is being distributed",
    42001: "access_token expired",
    44001: "empty media data",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    48002: "api forbidden",
    60111: "userid not found",
    60123: "invalid department id",
    81013: "user & party & tag all invalid",
    81017: "owner filter required, visible range exceeds 1000 members",
    84061: "not external contact",
    84071: "invalid welcome code, illegal or already consumed",
    84074: "no external contact permission",
    90500: "the owner of this chat is not resigned",
    90502: "the owner of this chat has resigned",
    90504: "chat owner unchanged",
    610004: "userid not in customer contact range",
}

MORE_INFO_URL = "https://open.work.weixin.qq.com/devtool/query?e="


class WeComError(Exception):
    """A WeCom API error: answered as HTTP 200 with this errcode (WeCom never uses 4xx)."""

    def __init__(self, errcode: int, detail: str = "") -> None:
        super().__init__(errcode, detail)
        self.errcode = errcode
        self.detail = detail

    def text(self) -> str:
        return self.detail or ERRMSG.get(self.errcode, "unknown error")


def hint() -> str:
    """A request id in the shape WeCom puts inside `hint: [...]`."""
    return f"{int(time.time())}_{secrets.randbelow(100)}_{secrets.token_hex(16)}"


def format_errmsg(errcode: int, text: str, client_ip: str) -> str:
    """errmsg as WeCom writes it: text, hint, caller IP, then the errcode lookup link."""
    return f"{text}, hint: [{hint()}], from ip: {client_ip}, more info at {MORE_INFO_URL}{errcode}"


def error_body(errcode: int, text: str, client_ip: str) -> dict[str, object]:
    return {"errcode": errcode, "errmsg": format_errmsg(errcode, text, client_ip)}
