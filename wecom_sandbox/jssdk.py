"""The sidebar's side of WeCom in the sandbox: OAuth2 codes, JS-SDK tickets, and the calls
a page makes through the JS-SDK inside the client (verified like WeCom verifies them).

State lives on the corp and is not saved with --state (codes and tickets are short-lived).
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from wecom_sandbox.state import Corp

OAUTH_CODE_TTL = 300  # seconds of sandbox time
TICKET_TTL = 7200
JSAPI_OK = {"getCurExternalContact", "sendChatMessage", "getContext", "openUserProfile"}


@dataclass
class OAuthCode:
    userid: str
    expires_at: int


@dataclass
class JsSdkState:
    """A corp's sidebar state: OAuth codes, tickets, trusted domains, page sessions, log."""

    codes: dict[str, OAuthCode] = field(default_factory=dict)
    # ticket -> expires_at; agent tickets per agentid
    jsapi_tickets: dict[str, int] = field(default_factory=dict)
    agent_tickets: dict[int, dict[str, int]] = field(default_factory=dict)
    trusted_domains: list[str] = field(default_factory=list)
    # page session id -> {"config": bool, "agent": bool}
    pages: dict[str, dict[str, bool]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)


def state_of(corp: Corp) -> JsSdkState:
    existing = getattr(corp, "jssdk", None)
    if existing is None:
        existing = JsSdkState()
        corp.jssdk = existing  # type: ignore[attr-defined]
    return existing


def signature(*, ticket: str, noncestr: str, timestamp: str | int, url: str) -> str:
    """WeCom's JS-SDK signature: sha1 of the four k=v pairs sorted and joined with &."""
    pairs = sorted(
        [f"jsapi_ticket={ticket}", f"noncestr={noncestr}", f"timestamp={timestamp}", f"url={url}"]
    )
    return hashlib.sha1("&".join(pairs).encode()).hexdigest()  # noqa: S324 - WeCom's algorithm


def trusted(corp: Corp, url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in state_of(corp).trusted_domains)


def code_issue(corp: Corp, userid: str, now: int) -> str:
    code = secrets.token_urlsafe(24)
    state_of(corp).codes[code] = OAuthCode(userid, now + OAUTH_CODE_TTL)
    return code


def code_redeem(corp: Corp, code: str, now: int) -> str | None:
    """The member behind a code, once; None if unknown, used or expired."""
    found = state_of(corp).codes.pop(code, None)
    if found is None or found.expires_at < now:
        return None
    return found.userid


def ticket_issue(corp: Corp, now: int, agent_id: int | None = None) -> str:
    state = state_of(corp)
    ticket = secrets.token_urlsafe(48)
    tickets = (
        state.jsapi_tickets if agent_id is None else state.agent_tickets.setdefault(agent_id, {})
    )
    tickets[ticket] = now + TICKET_TTL
    return ticket


def _signed(tickets: dict[str, int], args: dict[str, Any], url: str, now: int) -> bool:
    given = str(args.get("signature") or "")
    for ticket, expires_at in tickets.items():
        if expires_at < now:
            continue
        expected = signature(
            ticket=ticket,
            noncestr=str(args.get("nonceStr") or ""),
            timestamp=str(args.get("timestamp") or ""),
            url=url,
        )
        if secrets.compare_digest(expected, given):
            return True
    return False


def page_call(
    corp: Corp,
    *,
    page: str,
    userid: str,
    external_userid: str,
    method: str,
    args: dict[str, Any],
    url: str,
    now: int,
) -> dict[str, Any]:
    """One JS-SDK call from a page in the client; answers like the JS-SDK does (err_msg)."""
    state = state_of(corp)
    session = state.pages.setdefault(page, {"config": False, "agent": False})
    url = url.split("#", 1)[0]
    entry: dict[str, Any] = {
        "at": now,
        "page": page,
        "userid": userid,
        "external_userid": external_userid,
        "method": method,
        "args": args,
        "url": url,
    }
    if method == "config":
        ok = str(args.get("appId") or "") == corp.corp_id and _signed(
            state.jsapi_tickets, args, url, now
        )
        session["config"] = ok
        result = {"err_msg": "config:ok" if ok else "config:invalid signature"}
    elif method == "agentConfig":
        try:
            agent_id = int(args.get("agentid") or 0)
        except (TypeError, ValueError):
            agent_id = 0
        ok = (
            str(args.get("corpid") or "") == corp.corp_id
            and any(a.agent_id == agent_id for a in corp.apps.values())
            and _signed(state.agent_tickets.get(agent_id, {}), args, url, now)
        )
        session["agent"] = ok
        result = {"err_msg": "agentConfig:ok" if ok else "agentConfig:invalid signature"}
    elif method == "invoke":
        name = str(args.get("name") or "")
        result = _invoke(corp, session, name, args.get("args") or {}, userid, external_userid, now)
    else:
        result = {"err_msg": f"{method}:not supported by the sandbox"}
    entry["result"] = result
    state.calls.append(entry)
    return result


def _invoke(
    corp: Corp,
    session: dict[str, bool],
    name: str,
    args: dict[str, Any],
    userid: str,
    external_userid: str,
    now: int,
) -> dict[str, Any]:
    if not (session["config"] and session["agent"]):
        return {"err_msg": f"{name}:fail, the page has not called config and agentConfig"}
    if name not in JSAPI_OK:
        return {"err_msg": f"{name}:not supported by the sandbox"}
    if name == "getCurExternalContact":
        if not external_userid:
            return {"err_msg": "getCurExternalContact:fail, not in a single chat"}
        return {"err_msg": "getCurExternalContact:ok", "userId": external_userid}
    if name == "getContext":
        entry = "single_chat_tools" if external_userid else "normal"
        return {"err_msg": "getContext:ok", "entry": entry}
    if name == "sendChatMessage":
        msgtype = str(args.get("msgtype") or "text")
        if msgtype not in ("text", "image", "video", "file", "news", "miniprogram"):
            return {"err_msg": "sendChatMessage:fail, invalid msgtype"}
        if msgtype == "text" and not str((args.get("text") or {}).get("content") or "").strip():
            return {"err_msg": "sendChatMessage:fail, empty text"}
        # The guide still presses send in the client; the sandbox sends at once.
        from wecom_sandbox.records import Receipt

        text = str((args.get("text") or {}).get("content") or "")
        corp.received.setdefault(external_userid, []).append(
            Receipt("chat_message", now, userid, "", text, [args] if msgtype != "text" else [])
        )
        return {"err_msg": "sendChatMessage:ok"}
    return {"err_msg": f"{name}:ok"}
