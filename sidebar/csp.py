"""The sidebar's Content-Security-Policy: the console's, except that WeCom's client (or the
WeCom sandbox's chat window) may frame it and the corp's JS-SDK scripts may load."""

from django.conf import settings
from django.http import HttpResponse

from scrm.wecom.client import WeComNotConnected, wecom_client
from scrm.wecom.jssdk import client_origins, script_origins


def corp_api_base_url() -> str | None:
    try:
        return wecom_client(app_kind="customer_contact").credentials.api_base_url
    except WeComNotConnected:
        return None


def allow_wecom_client(response: HttpResponse, api_base_url: str | None) -> HttpResponse:
    """Marks the response; csp.middleware.CSPMiddleware writes the policy from it."""
    ancestors = list(settings.SIDEBAR_FRAME_ANCESTORS)
    if api_base_url:
        ancestors += client_origins(api_base_url)
    response._csp_replace = {"frame-ancestors": ancestors}  # type: ignore[attr-defined]
    if api_base_url:
        response._csp_update = {"script-src": script_origins(api_base_url)}  # type: ignore[attr-defined]
    return response
