"""Callbacks to the platform, encrypted and signed the way WeCom does it.

Encryption uses wechatpy's `WeChatCrypto` (an implementation independent of the
platform's). An event is sent from a worker thread, never from the API request that
caused it: POST to the app's callback URL with `msg_signature`, `timestamp` and `nonce`
in the query string and `<xml><ToUserName/><AgentID/><Encrypt/></xml>` as the body.
Only HTTP 200 within the timeout counts; otherwise it is re-sent, 3 attempts in all.
"""

import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import requests
import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto

from wecom_sandbox.faults import FaultInjector
from wecom_sandbox.records import App

MAX_DELIVERIES_KEPT = 100_000


@dataclass
class CallbackSettings:
    timeout_seconds: float = 5.0
    attempts: int = 3
    # WeCom documents no interval between re-sends (UNCONFIRMED); 1 s keeps tests quick.
    retry_interval_seconds: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "timeout_seconds": self.timeout_seconds,
            "attempts": self.attempts,
            "retry_interval_seconds": self.retry_interval_seconds,
        }

    def update(self, data: dict[str, Any]) -> None:
        if "timeout_seconds" in data:
            self.timeout_seconds = float(data["timeout_seconds"])
        if "attempts" in data:
            self.attempts = max(1, int(data["attempts"]))
        if "retry_interval_seconds" in data:
            self.retry_interval_seconds = max(0.0, float(data["retry_interval_seconds"]))


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def event_xml(corp_id: str, create_time: int, fields: dict[str, Any]) -> str:
    """The plaintext event: WeCom's common header, then `fields` in order.

    Integers go in bare, strings in CDATA, as in the official samples.
    """
    items: list[tuple[str, Any]] = [
        ("ToUserName", corp_id),
        ("FromUserName", "sys"),
        ("CreateTime", create_time),
        ("MsgType", "event"),
        *fields.items(),
    ]
    parts = ["<xml>"]
    for name, value in items:
        text = str(value) if isinstance(value, int) else _cdata(str(value))
        parts.append(f"<{name}>{text}</{name}>")
    parts.append("</xml>")
    return "".join(parts)


def encrypt(app: App, corp_id: str, plaintext: str, timestamp: str, nonce: str) -> tuple[str, str]:
    """(Encrypt, msg_signature) for `plaintext`, as WeCom computes them."""
    crypto = WeChatCrypto(app.token, app.encoding_aes_key, corp_id)
    reply = xmltodict.parse(crypto.encrypt_message(plaintext, nonce, timestamp))["xml"]
    return reply["Encrypt"], reply["MsgSignature"]


@dataclass
class Attempt:
    number: int
    status_code: int | None
    error: str
    latency_ms: float
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "status_code": self.status_code,
            "error": self.error,
            "latency_ms": round(self.latency_ms, 1),
            "at": self.at,
        }


@dataclass
class Delivery:
    id: int
    corp_id: str
    app_name: str
    url: str
    event: dict[str, Any]
    xml: str
    create_time: int
    status: str = "pending"
    attempts: list[Attempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "corp_id": self.corp_id,
            "app": self.app_name,
            "url": self.url,
            "event": self.event,
            "xml": self.xml,
            "create_time": self.create_time,
            "status": self.status,
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }


class CallbackDispatcher:
    """Queues events, sends them from a thread pool, and keeps every delivery attempt."""

    def __init__(self, faults: FaultInjector, settings: CallbackSettings, workers: int = 8) -> None:
        self.faults = faults
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="callback")
        self._lock = threading.Lock()
        self._deliveries: OrderedDict[int, Delivery] = OrderedDict()
        self._next_id = 1
        self._local = threading.local()

    def emit(self, app: App | None, corp_id: str, create_time: int, fields: dict[str, Any]) -> int:
        """Record an event and queue it for sending; returns the delivery id.

        Called with the state lock held: it only copies what the worker needs.
        """
        xml = event_xml(corp_id, create_time, fields)
        with self._lock:
            delivery = Delivery(
                id=self._next_id,
                corp_id=corp_id,
                app_name=app.name if app else "",
                url=app.callback_url if app else "",
                event={"CreateTime": create_time, **fields},
                xml=xml,
                create_time=create_time,
            )
            self._next_id += 1
            self._deliveries[delivery.id] = delivery
            while len(self._deliveries) > MAX_DELIVERIES_KEPT:
                self._deliveries.popitem(last=False)
        if app is None or not app.callback_url:
            delivery.status = "no_callback_url"
        elif self.faults.drop_callback():
            delivery.status = "dropped"
        else:
            snapshot = App(
                app.name,
                app.agent_id,
                app.secret,
                app.callback_url,
                app.token,
                app.encoding_aes_key,
            )
            self._executor.submit(self._deliver, delivery, snapshot)
        return delivery.id

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _deliver(self, delivery: Delivery, app: App) -> None:
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(8)
        try:
            encrypted, signature = encrypt(app, delivery.corp_id, delivery.xml, timestamp, nonce)
        except Exception as exc:  # a broken EncodingAESKey must not kill the worker
            delivery.status = "failed"
            delivery.attempts.append(Attempt(0, None, f"encrypt: {exc}", 0.0, time.time()))
            return
        agent_id = "" if app.agent_id is None else str(app.agent_id)
        body = (
            f"<xml><ToUserName>{_cdata(delivery.corp_id)}</ToUserName>"
            f"<AgentID>{_cdata(agent_id)}</AgentID>"
            f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
        ).encode()
        params = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}
        attempts = self.settings.attempts
        for number in range(1, attempts + 1):
            started = time.monotonic()
            status_code: int | None = None
            error = ""
            try:
                response = self._session().post(
                    app.callback_url,
                    params=params,
                    data=body,
                    headers={"Content-Type": "text/xml"},
                    timeout=self.settings.timeout_seconds,
                )
                status_code = response.status_code
            except requests.RequestException as exc:
                error = type(exc).__name__ + ": " + escape(str(exc))[:300]
            latency = (time.monotonic() - started) * 1000
            delivery.attempts.append(Attempt(number, status_code, error, latency, time.time()))
            if status_code == 200:
                delivery.status = "delivered"
                return
            if number < attempts:
                time.sleep(self.settings.retry_interval_seconds)
        delivery.status = "failed"

    def deliveries(
        self, corp_id: str, since_id: int = 0, change_type: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            found = [
                d
                for d in self._deliveries.values()
                if d.corp_id == corp_id and d.id > since_id
                if change_type is None or d.event.get("ChangeType") == change_type
            ]
        return [delivery.to_json() for delivery in found]

    def delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery (None once it left the log); its attempts keep growing while
        it is pending."""
        with self._lock:
            return self._deliveries.get(delivery_id)

    def clear(self) -> None:
        with self._lock:
            self._deliveries.clear()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def verify_url(self, app: App, corp_id: str) -> dict[str, Any]:
        """Send the URL-verification GET WeCom sends when an admin saves the callback URL,
        and report whether the platform echoed the decrypted plaintext exactly."""
        plaintext = str(secrets.randbelow(10**18))
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(8)
        echostr, signature = encrypt(app, corp_id, plaintext, timestamp, nonce)
        params = {
            "msg_signature": signature,
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        started = time.monotonic()
        result: dict[str, Any] = {"url": app.callback_url, "expected": plaintext}
        try:
            response = requests.get(
                app.callback_url, params=params, timeout=self.settings.timeout_seconds
            )
        except requests.RequestException as exc:
            result.update(matched=False, status_code=None, body="", error=str(exc))
        else:
            result.update(
                matched=response.status_code == 200 and response.content == plaintext.encode(),
                status_code=response.status_code,
                body=response.content.decode("utf-8", "replace")[:1000],
                error="",
            )
        latency = (time.monotonic() - started) * 1000
        # WeCom wants the echo within 1 s.
        result.update(latency_ms=round(latency, 1), within_1s=latency <= 1000)
        return result
