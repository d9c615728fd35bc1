"""WeCom's client-side pieces for pages opened inside WeCom: the OAuth2 authorize URL, the
JS-SDK script, tickets (cached per corp, named by tenant) and the signature.

Where those live follows the corp's API base URL: WeCom's own hosts for WeCom, the same
origin for the sandbox (which production settings never enable).
"""

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.cache import cache

from scrm.wecom.client import WeComClient

WECOM_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
WECOM_JSSDK_SCRIPTS = (
    "https://res.wx.qq.com/open/js/jweixin-1.2.0.js",
    "https://open.work.weixin.qq.com/wwopen/js/jwxwork-1.0.0.js",
)
TICKET_MARGIN = 300  # seconds before WeCom's expiry that a cached ticket is renewed


def signature(*, ticket: str, noncestr: str, timestamp: str | int, url: str) -> str:
    """sha1 of "jsapi_ticket=…&noncestr=…&timestamp=…&url=…" (the url without #fragment)."""
    pairs = sorted(
        [
            f"jsapi_ticket={ticket}",
            f"noncestr={noncestr}",
            f"timestamp={timestamp}",
            f"url={url.split('#', 1)[0]}",
        ]
    )
    return hashlib.sha1("&".join(pairs).encode()).hexdigest()  # noqa: S324 - WeCom's algorithm


def _origin(api_base_url: str) -> str:
    parts = urlsplit(api_base_url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_wecom(api_base_url: str) -> bool:
    return api_base_url.startswith(settings.WECOM_API_BASE_URL)


def authorize_url(
    *, api_base_url: str, corp_id: str, redirect_uri: str, state: str, agent_id: int | None
) -> str:
    base = (
        WECOM_AUTHORIZE_URL
        if _is_wecom(api_base_url)
        else _origin(api_base_url) + "/connect/oauth2/authorize"
    )
    params: dict[str, Any] = {
        "appid": corp_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "snsapi_base",
        "state": state,
    }
    if agent_id:
        params["agentid"] = agent_id
    return f"{base}?{urlencode(params)}#wechat_redirect"


def jssdk_scripts(api_base_url: str) -> list[str]:
    if _is_wecom(api_base_url):
        return list(WECOM_JSSDK_SCRIPTS)
    return [_origin(api_base_url) + "/client/jweixin.js"]


def client_origins(api_base_url: str) -> list[str]:
    """Origins of the pages that host the sidebar in a frame, beyond WeCom's own clients
    (settings.SIDEBAR_FRAME_ANCESTORS): the WeCom sandbox's chat window for a corp on it."""
    return [] if _is_wecom(api_base_url) else [_origin(api_base_url)]


def script_origins(api_base_url: str) -> list[str]:
    """Origins of the JS-SDK scripts the sidebar page loads."""
    return sorted({_origin(src) for src in jssdk_scripts(api_base_url)})


def _ticket(client: WeComClient, kind: str) -> str:
    """The corp's jsapi ticket or the app's agent ticket, from the cache while valid."""
    credentials = client.credentials
    key = f"wecom:{credentials.tenant_schema}:{credentials.corp_id}:{credentials.app_kind}:{kind}"
    cached = cache.get(key)
    if cached:
        return str(cached)
    if kind == "agent":
        response = client.get("ticket/get", params={"type": "agent_config"})
    else:
        response = client.get("get_jsapi_ticket")
    ticket = str(response["ticket"])
    ttl = max(60, int(response.get("expires_in") or 7200) - TICKET_MARGIN)
    cache.set(key, ticket, ttl)
    return ticket


@dataclass(frozen=True)
class JsSdkConfig:
    config: dict[str, Any]
    agent_config: dict[str, Any]


def jssdk_config(*, client: WeComClient, url: str, js_api_list: list[str]) -> JsSdkConfig:
    """Signed parameters of wx.config and wx.agentConfig for the page at `url`."""
    credentials = client.credentials
    timestamp = int(time.time())
    nonce = secrets.token_urlsafe(12)
    agent_nonce = secrets.token_urlsafe(12)
    config = {
        "beta": True,
        "debug": False,
        "appId": credentials.corp_id,
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": signature(
            ticket=_ticket(client, "corp"), noncestr=nonce, timestamp=timestamp, url=url
        ),
        "jsApiList": js_api_list,
    }
    agent_config = {
        "corpid": credentials.corp_id,
        "agentid": credentials.agent_id,
        "timestamp": timestamp,
        "nonceStr": agent_nonce,
        "signature": signature(
            ticket=_ticket(client, "agent"), noncestr=agent_nonce, timestamp=timestamp, url=url
        ),
        "jsApiList": js_api_list,
    }
    return JsSdkConfig(config=config, agent_config=agent_config)
