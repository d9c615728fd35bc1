"""Generated callbacks, mostly bad, for fuzzing a platform's callback URL.

`fuzz_callbacks` yields a reproducible (seeded) mix of what WeCom sends and what an
attacker or a broken proxy could: valid callbacks, replays of them, and malformed,
oversized, wrongly signed, wrongly encrypted and misaddressed ones. Each carries what the
platform must do with it: store it (`store`), acknowledge it without storing it again
(`duplicate`), or refuse it with a 4xx and store nothing (`reject`).

Encryption is done here from the published scheme (AES-256-CBC, IV = key[:16], random(16) +
length + message + receive id, PKCS#7 to 32 bytes; msg_signature = sha1 of the sorted
token, timestamp, nonce and ciphertext), so the platform's own crypto is not used to test
itself.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# The change type of every valid callback: no application handler knows it, so processing
# it touches nothing but the event row (a test may register a handler to count runs).
PROBE_CHANGE_TYPE = "fuzz_probe"
# Bigger than Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
OVERSIZED_BYTES = 3 * 1024 * 1024

# kind -> weight. `valid` and `replay` are WeCom's; every other kind must be refused.
KINDS: dict[str, int] = {
    "valid": 20,
    "replay": 8,
    "replay_reencrypted": 4,
    "garbage_body": 6,
    "not_xml": 5,
    "no_encrypt": 4,
    "entity_bomb": 3,
    "bad_signature": 8,
    "missing_parameter": 5,
    "wrong_aes_key": 5,
    "other_corp_inside": 4,
    "not_base64": 3,
    "bad_block_length": 3,
    "bad_padding": 3,
    "bad_length_field": 3,
    "plaintext_not_xml": 4,
    "plaintext_without_msgtype": 3,
    "plaintext_entity": 2,
    "plaintext_not_utf8": 2,
    "unknown_corp": 3,
    "unknown_app": 2,
    "wrong_method": 2,
    "bad_verification": 3,
    "oversized": 1,
}


@dataclass(frozen=True)
class FuzzCallback:
    kind: str
    method: str
    path: str  # with the query string
    body: bytes
    expect: str  # store / duplicate / reject
    external_userid: str = ""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    joined = "".join(sorted([token, timestamp, nonce, encrypted]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 (WeCom's scheme)


def _aes(key43: str, plain: bytes) -> str:
    key = base64.b64decode(key43 + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def _pad(plain: bytes) -> bytes:
    pad = 32 - len(plain) % 32
    return plain + bytes([pad]) * pad


def _plain(message: bytes, receive_id: str) -> bytes:
    return os.urandom(16) + struct.pack(">I", len(message)) + message + receive_id.encode()


def encrypt(key43: str, message: bytes, receive_id: str) -> str:
    return _aes(key43, _pad(_plain(message, receive_id)))


def event_message(corp_id: str, external_userid: str, create_time: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
        "<FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event>"
        f"<ChangeType><![CDATA[{PROBE_CHANGE_TYPE}]]></ChangeType>"
        "<UserID><![CDATA[guide01]]></UserID>"
        f"<ExternalUserID><![CDATA[{external_userid}]]></ExternalUserID></xml>"
    )


class _Generator:
    def __init__(self, corp_id: str, app: str, token: str, aes_key: str, seed: int) -> None:
        self.corp_id, self.app, self.token, self.aes_key = corp_id, app, token, aes_key
        self.rng = random.Random(seed)  # noqa: S311 (reproducible test data, not secrets)
        self.run = f"{seed:x}{self.rng.getrandbits(24):06x}"
        self.valid: list[tuple[FuzzCallback, str]] = []  # (callback, its plaintext)
        self.now = int(time.time())

    def path(self, corp_id: str | None = None, app: str | None = None, **query: str) -> str:
        base = f"/wecom/callback/{corp_id or self.corp_id}/{app or self.app}/"
        return base + ("?" + urlencode(query) if query else "")

    def nonce(self) -> str:
        return "".join(self.rng.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(10))

    def envelope(self, encrypted: str) -> bytes:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<AgentID>1000002</AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        ).encode()

    def signed(
        self, kind: str, encrypted: str, expect: str = "reject", **extra: str
    ) -> FuzzCallback:
        timestamp, nonce = str(self.now), self.nonce()
        sig = signature(self.token, timestamp, nonce, encrypted)
        path = self.path(msg_signature=sig, timestamp=timestamp, nonce=nonce)
        return FuzzCallback(kind, "POST", path, self.envelope(encrypted), expect, **extra)

    def message_callback(self, kind: str, message: bytes) -> FuzzCallback:
        return self.signed(kind, encrypt(self.aes_key, message, self.corp_id))

    def random_bytes(self, low: int, high: int) -> bytes:
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(low, high)))

    def valid_request(self, external_userid: str) -> tuple[FuzzCallback, str]:
        message = event_message(self.corp_id, external_userid, self.now)
        encrypted = encrypt(self.aes_key, message.encode(), self.corp_id)
        callback = self.signed("valid", encrypted, expect="store", external_userid=external_userid)
        return callback, message

    def make(self, kind: str) -> FuzzCallback:  # one branch per kind
        rng = self.rng
        if kind in ("replay", "replay_reencrypted") and not self.valid:
            kind = "valid"
        if kind == "valid":
            callback, message = self.valid_request(f"wmFuzz{self.run}{len(self.valid):06d}")
            self.valid.append((callback, message))
            return callback
        if kind == "replay":  # WeCom retrying the very same request
            original, _ = rng.choice(self.valid)
            return FuzzCallback(
                kind, "POST", original.path, original.body, "duplicate", original.external_userid
            )
        if kind == "replay_reencrypted":  # the same event, encrypted and signed anew
            original, message = rng.choice(self.valid)
            return self.signed(
                kind,
                encrypt(self.aes_key, message.encode(), self.corp_id),
                expect="duplicate",
                external_userid=original.external_userid,
            )
        timestamp, nonce = str(self.now), self.nonce()
        if kind == "garbage_body":
            sig = signature(self.token, timestamp, nonce, "x")
            path = self.path(msg_signature=sig, timestamp=timestamp, nonce=nonce)
            return FuzzCallback(kind, "POST", path, self.random_bytes(0, 2000), "reject")
        if kind == "not_xml":
            text = rng.choice(
                ['{"Encrypt": "abc"}', "Encrypt=abc", "<xml><Encrypt>", "<?xml?>", "", "<a/>"]
            )
            path = self.path(msg_signature="0" * 40, timestamp=timestamp, nonce=nonce)
            return FuzzCallback(kind, "POST", path, text.encode(), "reject")
        if kind == "no_encrypt":
            body = f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName></xml>".encode()
            path = self.path(msg_signature="0" * 40, timestamp=timestamp, nonce=nonce)
            return FuzzCallback(kind, "POST", path, body, "reject")
        if kind == "entity_bomb":
            body = (
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                b"<xml><Encrypt>&c;</Encrypt></xml>"
            )
            path = self.path(msg_signature="0" * 40, timestamp=timestamp, nonce=nonce)
            return FuzzCallback(kind, "POST", path, body, "reject")
        if kind == "bad_signature":
            payload = event_message(self.corp_id, f"wmForged{self.run}", self.now).encode()
            encrypted = encrypt(self.aes_key, payload, self.corp_id)
            forged = rng.choice(
                [
                    "".join(rng.choice("0123456789abcdef") for _ in range(40)),
                    signature("not-the-token", timestamp, nonce, encrypted),
                    signature(self.token, timestamp, nonce, encrypted)[:-1],
                    signature(self.token, timestamp, nonce, encrypted).upper(),
                ]
            )
            path = self.path(msg_signature=forged, timestamp=timestamp, nonce=nonce)
            return FuzzCallback(kind, "POST", path, self.envelope(encrypted), "reject")
        if kind == "missing_parameter":
            payload = event_message(self.corp_id, f"wmMissing{self.run}", self.now).encode()
            encrypted = encrypt(self.aes_key, payload, self.corp_id)
            query = {
                "msg_signature": signature(self.token, timestamp, nonce, encrypted),
                "timestamp": timestamp,
                "nonce": nonce,
            }
            query.pop(rng.choice(list(query)))
            return FuzzCallback(
                kind, "POST", self.path(**query), self.envelope(encrypted), "reject"
            )
        if kind == "wrong_aes_key":
            other = base64.b64encode(os.urandom(32)).decode()[:43]
            payload = event_message(self.corp_id, f"wmWrongKey{self.run}", self.now).encode()
            return self.signed(kind, encrypt(other, payload, self.corp_id))
        if kind == "other_corp_inside":
            payload = event_message(self.corp_id, f"wmOtherCorp{self.run}", self.now).encode()
            return self.signed(kind, encrypt(self.aes_key, payload, "wwsomeothercorp01"))
        if kind == "not_base64":
            return self.signed(kind, rng.choice(["%%%", "abc!", "====", "a b c", "é"]))
        if kind == "bad_block_length":
            raw = base64.b64encode(os.urandom(rng.choice([1, 15, 17, 33]))).decode()
            return self.signed(kind, raw)
        if kind == "bad_padding":
            plain = _plain(b"<xml/>", self.corp_id)
            plain += bytes(32 - len(plain) % 32 - 1) + bytes([rng.choice([0, 33, 200])])
            return self.signed(kind, _aes(self.aes_key, plain))
        if kind == "bad_length_field":
            payload = event_message(self.corp_id, f"wmLength{self.run}", self.now).encode()
            plain = os.urandom(16) + struct.pack(">I", len(payload) + rng.randint(50, 10**6))
            plain += payload + self.corp_id.encode()
            return self.signed(kind, _aes(self.aes_key, _pad(plain)))
        if kind == "plaintext_not_xml":
            return self.message_callback(kind, rng.choice([b"hello", b"{}", b"<xml>", b""]))
        if kind == "plaintext_without_msgtype":
            text = f"<xml><ToUserName>{self.corp_id}</ToUserName><Event>x</Event></xml>"
            return self.message_callback(kind, text.encode())
        if kind == "plaintext_entity":
            return self.message_callback(
                kind, b'<!DOCTYPE x [<!ENTITY e "event">]><xml><MsgType>&e;</MsgType></xml>'
            )
        if kind == "plaintext_not_utf8":
            return self.message_callback(kind, b"<xml><MsgType>\xff\xfe</MsgType></xml>")
        if kind == "unknown_corp":
            callback, _ = self.valid_request(f"wmMisaddressed{self.run}")
            path = callback.path.replace(self.corp_id, "wwnosuchcorp0001", 1)
            return FuzzCallback(kind, "POST", path, callback.body, "reject")
        if kind == "unknown_app":
            callback, _ = self.valid_request(f"wmMisaddressed{self.run}")
            path = callback.path.replace(f"/{self.app}/", "/no_such_app/", 1)
            return FuzzCallback(kind, "POST", path, callback.body, "reject")
        if kind == "wrong_method":
            callback, _ = self.valid_request(f"wmMisaddressed{self.run}")
            method = rng.choice(["PUT", "DELETE", "PATCH"])
            return FuzzCallback(kind, method, callback.path, callback.body, "reject")
        if kind == "bad_verification":  # the GET WeCom sends when the URL is saved
            echostr = rng.choice(["abc", encrypt(self.aes_key, b"12345", "wwother")])
            sig = rng.choice(["0" * 40, signature(self.token, timestamp, nonce, echostr)])
            path = self.path(msg_signature=sig, timestamp=timestamp, nonce=nonce, echostr=echostr)
            return FuzzCallback(kind, "GET", path, b"", "reject")
        if kind == "oversized":
            encrypted = "A" * OVERSIZED_BYTES
            return self.signed(kind, encrypted)
        raise ValueError(f"unknown kind {kind!r}")


def fuzz_callbacks(
    *,
    corp_id: str,
    token: str,
    aes_key: str,
    count: int,
    seed: int = 1,
    app: str = "customer_contact",
    oversized: bool = True,
) -> Iterator[FuzzCallback]:
    """`count` callbacks of every kind in KINDS, mixed by weight (each kind at least once
    when count allows)."""
    generator = _Generator(corp_id, app, token, aes_key, seed)
    kinds = [k for k in KINDS if oversized or k != "oversized"]
    weights = [KINDS[k] for k in kinds]
    plan = list(kinds[:count]) + generator.rng.choices(kinds, weights, k=max(0, count - len(kinds)))
    generator.rng.shuffle(plan)
    # a replay needs an earlier valid callback: make the first one valid
    if plan and plan[0] != "valid":
        plan[plan.index("valid")], plan[0] = plan[0], "valid"
    for kind in plan:
        yield generator.make(kind)
