"""The `/cgi-bin/` pipeline: route, faults, token, frequency limits, then the handler.

Handlers return the payload of a successful answer (without errcode/errmsg) or raise
`WeComError`. Every answer is HTTP 200 with JSON, as WeCom does, except injected 5xx
faults and unknown paths (404).
"""

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from wecom_sandbox.errors import WeComError, error_body
from wecom_sandbox.records import App
from wecom_sandbox.sandbox import Sandbox
from wecom_sandbox.state import CONTACTS_SYNC, Corp


@dataclass
class UploadedFile:
    filename: str
    content: bytes


@dataclass
class ApiCall:
    """One WeCom API request. `param()` reads the JSON body first, then the query string."""

    sandbox: Sandbox
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    files: dict[str, UploadedFile]
    client_ip: str
    now: int
    app: App | None = None
    _corp: Corp | None = field(default=None, repr=False)

    @property
    def corp(self) -> Corp:
        if self._corp is None:
            raise RuntimeError("this API does not authenticate")
        return self._corp

    def param(self, name: str, default: Any = None) -> Any:
        if name in self.body:
            return self.body[name]
        return self.query.get(name, default)

    def string(self, name: str, *, required: bool = False, errcode: int = 40058) -> str:
        value = self.param(name)
        if value is None or value == "":
            if required:
                raise WeComError(errcode, f"{name} is required")
            return ""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise WeComError(40058, f"{name} must be a string")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.param(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise WeComError(40058, f"{name} must be an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise WeComError(40058, f"{name} must be an integer") from None

    def string_list(self, name: str) -> list[str]:
        value = self.param(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise WeComError(40058, f"{name} must be a list of strings")
        return value


Handler = Callable[[ApiCall], dict[str, Any]]


@dataclass(frozen=True)
class ApiRoute:
    path: str
    handler: Handler
    needs_token: bool
    customer_contact: bool


ROUTES: dict[str, ApiRoute] = {}


def api(
    path: str, *, needs_token: bool = True, customer_contact: bool = False
) -> Callable[[Handler], Handler]:
    """Register a handler for `/cgi-bin/<path>`.

    `customer_contact` APIs refuse tokens of the contacts-sync app (48002), as WeCom
    refuses secrets that are not in 「客户联系 → 可调用接口的应用」.
    """

    def register(handler: Handler) -> Handler:
        ROUTES[path] = ApiRoute(path, handler, needs_token, customer_contact)
        return handler

    return register


def encode_cursor(offset: int) -> str:
    # WeCom cursors are opaque strings; ours are a base64'd offset.
    return base64.urlsafe_b64encode(f"sbx:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: Any) -> int:
    if cursor in (None, ""):
        return 0
    if not isinstance(cursor, str):
        raise WeComError(40058, "invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, offset = raw.partition(":")
        if prefix != "sbx":
            raise ValueError(cursor)
        return max(0, int(offset))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise WeComError(40058, "invalid cursor") from None


def page(items: list[Any], offset: int, limit: int) -> tuple[list[Any], str]:
    chunk = items[offset : offset + limit]
    end = offset + len(chunk)
    return chunk, encode_cursor(end) if end < len(items) else ""


def parse_multipart(content_type: str, body: bytes) -> dict[str, UploadedFile]:
    message: Message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    files: dict[str, UploadedFile] = {}
    if not message.is_multipart():
        return files
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename() or ""
        payload = part.get_payload(decode=True) or b""
        files[str(name)] = UploadedFile(filename=filename, content=payload)
    return files


def _authenticate(call: ApiCall, route: ApiRoute) -> None:
    state = call.sandbox.state
    token_value = call.query.get("access_token", "")
    if not token_value:
        raise WeComError(41001)
    token = state.tokens.get(token_value)
    if token is None or token.corp_id not in state.corps:
        raise WeComError(40014)
    if token.expires_at <= call.sandbox.clock.now():
        raise WeComError(42001)
    corp = state.corps[token.corp_id]
    app = corp.apps.get(token.app_name)
    if app is None:
        raise WeComError(40014)
    if route.customer_contact and app.name == CONTACTS_SYNC:
        raise WeComError(48002, f"api forbidden for the contacts sync secret: {route.path}")
    call._corp = corp
    call.app = app


def handle_api(
    sandbox: Sandbox,
    path: str,
    query: dict[str, str],
    headers: Message,
    raw_body: bytes,
    client_ip: str,
) -> tuple[int, dict[str, Any]]:
    """Answer one `/cgi-bin/<path>` request: (HTTP status, JSON body)."""
    route = ROUTES.get(path.strip("/"))
    if route is None:
        # UNCONFIRMED: WeChat's gateways answer unknown cgi-bin paths with HTTP 404 rather
        # than an errcode (wechatpy issue #105, for the mp API); the body is ours.
        return 404, {"errcode": 404, "errmsg": f"sandbox: no such api: /cgi-bin/{path}"}
    decision = sandbox.faults.decide(route.path)
    if decision.latency_ms:
        time.sleep(decision.latency_ms / 1000)
    if decision.http_status is not None:
        return decision.http_status, {"errcode": -1, "errmsg": "sandbox: injected http error"}
    if decision.errcode is not None:
        text = decision.errmsg or WeComError(decision.errcode).text()
        return 200, error_body(decision.errcode, text, client_ip)
    try:
        body, files = _parse_body(headers, raw_body)
        with sandbox.state.lock:
            sandbox.settle()
            call = ApiCall(
                sandbox=sandbox,
                path=route.path,
                query=query,
                body=body,
                files=files,
                client_ip=client_ip,
                now=sandbox.now(),
            )
            corp_id = None
            if route.needs_token:
                _authenticate(call, route)
                corp_id = call.corp.corp_id
            elif query.get("corpid") in sandbox.state.corps:
                corp_id = query["corpid"]
            if not sandbox.limiter.allow(route.path, corp_id, client_ip):
                raise WeComError(45009)
            payload = route.handler(call)
    except WeComError as error:
        return 200, error_body(error.errcode, error.text(), client_ip)
    if decision.reply_latency_ms:
        time.sleep(decision.reply_latency_ms / 1000)
    return 200, {"errcode": 0, "errmsg": "ok", **payload}


def _parse_body(
    headers: Message, raw_body: bytes
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    content_type = headers.get("Content-Type", "") or ""
    if content_type.startswith("multipart/form-data"):
        return {}, parse_multipart(content_type, raw_body)
    if not raw_body.strip():
        return {}, {}
    try:
        body = json.loads(raw_body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WeComError(40058, "Warning: wrong json format.") from None
    if not isinstance(body, dict):
        raise WeComError(40058, "Warning: wrong json format.")
    return body, {}
