"""Opaque ids in the shapes WeCom uses (prefixes and lengths from the official examples)."""

import base64
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def _random(length: int, alphabet: str = _ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def access_token() -> str:
    # Real tokens are opaque and "up to 512 bytes"; 86 urlsafe characters keep them obviously
    # longer than the 64 a careless column might allow.
    return secrets.token_urlsafe(64)


def secret() -> str:
    return _random(43)


def encoding_aes_key() -> str:
    return _random(43)


def callback_token() -> str:
    return _random(16)


def external_userid() -> str:
    return "wm" + secrets.token_urlsafe(21)[:30]


def external_userids(count: int) -> list[str]:
    """Many external_userids at once: one urandom call instead of `count`."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(count * 24)).decode("ascii")
    return ["wm" + raw[i * 32 : i * 32 + 30] for i in range(count)]


def corp_tag_id() -> str:
    return "et" + secrets.token_urlsafe(24)[:30]


def config_id() -> str:
    return secrets.token_hex(16)


def qr_code_url() -> str:
    return f"https://wework.qpic.cn/wwpic/{secrets.randbelow(10**6)}_{_random(20)}_{secrets.randbelow(10**10)}/0"


def welcome_code() -> str:
    return secrets.token_urlsafe(32)


def msgid() -> str:
    return "msg" + secrets.token_urlsafe(18)[:24]


def chat_id() -> str:
    return "wr" + secrets.token_urlsafe(21)[:28]


def media_id() -> str:
    return "3" + secrets.token_urlsafe(48)[:63]


def app_msgid() -> str:
    return secrets.token_urlsafe(24)


def avatar_for(external_userid: str) -> str:
    """A stable avatar URL, derived instead of stored to keep seeded customers small."""
    return f"https://wx.qlogo.cn/mmhead/{external_userid[2:]}/0"


def corp_id() -> str:
    return "ww" + secrets.token_hex(8)
