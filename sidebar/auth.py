"""Who the guide is: WeCom OAuth2 (the code exchanged on the server with auth/getuserinfo,
codes single-use), then a short guide session bound to the tenant and the guide's userid.

The session is a signed token, not a cookie: the sidebar runs in WeCom's webview (and, in
the sandbox, in an iframe of another site), where cookies are unreliable. After OAuth2 the
guide lands on `next` with `#t=<token>` in the fragment (never sent to servers or logs); the
page keeps it in sessionStorage and sends it as the `X-Sidebar-Token` header. The OAuth2
`state` is signed too (with the page to return to), so no session is needed before either.
"""

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from contacts.models import Guide, Relation
from scrm.wecom.client import WeComNotConnected, wecom_client
from scrm.wecom.errors import WeComError
from scrm.wecom.jssdk import authorize_url
from sidebar.csp import allow_wecom_client, corp_api_base_url

TOKEN_HEADER = "X-Sidebar-Token"  # noqa: S105 - a header name
TOKEN_SALT = "sidebar.guide-session"  # noqa: S105 - a signing namespace
STATE_SALT = "sidebar.oauth-state"
STATE_MAX_AGE = 600


def _refuse(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"error": message}, status=status)
    page = render(request, "sidebar/refused.html", {"message": message}, status=status)
    return allow_wecom_client(page, corp_api_base_url())  # shown inside WeCom's frame


def _safe_next(value: str | None) -> str:
    """Only a path of the sidebar on this host (never an open redirect)."""
    default = reverse("sidebar:home")
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(default):
        return default
    return value


def _schema() -> str:
    return str(getattr(connection, "schema_name", ""))


def guide_token(guide: Guide) -> str:
    """A guide session: signed, bound to this tenant and the guide, expiring."""
    return signing.dumps(
        {"schema": _schema(), "id": guide.pk, "userid": guide.userid},
        salt=TOKEN_SALT,
    )


def token_guide(token: str) -> Guide | None:
    """The guide of a token still valid for this tenant, if they are still active."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=settings.SIDEBAR_SESSION_SECONDS)
    except signing.BadSignature:  # includes expired
        return None
    if not isinstance(data, dict) or data.get("schema") != _schema():
        return None
    return Guide.objects.filter(
        pk=int(data.get("id") or 0), userid=str(data.get("userid")), status=Guide.Status.ACTIVE
    ).first()


def guide_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view runs for the guide of the request's token (`request.guide`); others get
    401 and the page sends them through WeCom's OAuth2 again."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        guide = token_guide(request.headers.get(TOKEN_HEADER, ""))
        if guide is None:
            return JsonResponse(
                {"error": _("sign in again from WeCom"), "login": reverse("sidebar:login")},
                status=401,
            )
        request.guide = guide  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return xframe_options_exempt(wrapper)


@require_GET
@xframe_options_exempt
def login(request: HttpRequest) -> HttpResponse:
    """Off to WeCom's authorize step; it comes back to `oauth_callback` with a code."""
    try:
        client = wecom_client(app_kind="customer_contact")
    except WeComNotConnected:
        return _refuse(request, 503, _("this brand has not connected WeCom yet"))
    state = signing.dumps(
        {"next": _safe_next(request.GET.get("next")), "n": secrets.token_urlsafe(8)},
        salt=STATE_SALT,
    )
    credentials = client.credentials
    return HttpResponseRedirect(
        authorize_url(
            api_base_url=credentials.api_base_url,
            corp_id=credentials.corp_id,
            redirect_uri=request.build_absolute_uri(reverse("sidebar:oauth_callback")),
            state=state,
            agent_id=credentials.agent_id,
        )
    )


@require_GET
@xframe_options_exempt
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """WeCom's redirect: the code is exchanged on the server (once: WeCom refuses a used
    code), and the guide lands on the page they opened with their session token."""
    code = request.GET.get("code", "")
    try:
        state = signing.loads(request.GET.get("state", ""), salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.BadSignature:
        state = None
    if not code or not isinstance(state, dict):
        return _refuse(request, 400, _("this sign-in link is not valid: open the sidebar again"))
    try:
        answer = wecom_client(app_kind="customer_contact").get(
            "auth/getuserinfo", params={"code": code}
        )
    except WeComError as exc:
        if exc.transient:
            return _refuse(request, 503, _("WeCom is busy: open the sidebar again in a moment"))
        return _refuse(request, 403, _("the sign-in code was refused by WeCom (used or expired)"))
    userid = str(answer.get("userid") or answer.get("UserId") or "")
    guide = (
        Guide.objects.filter(userid=userid, status=Guide.Status.ACTIVE).first() if userid else None
    )
    if guide is None:
        return _refuse(request, 403, _("you are not a guide of this brand"))
    return HttpResponseRedirect(
        f"{_safe_next(str(state.get('next') or ''))}#t={guide_token(guide)}"
    )


def customer_relations_for(guide: Guide, customer_id: int) -> Any:
    """The guide's way to a customer: an active relation of theirs, or, with the store
    scope, of a guide of their store."""
    from sidebar.models import SidebarSettings

    scope = SidebarSettings.objects.values_list("guide_scope", flat=True).first()
    relations = Relation.objects.filter(customer_id=customer_id, status=Relation.Status.ACTIVE)
    if scope == SidebarSettings.Scope.STORE and guide.store_id:
        return relations.filter(guide__store_id=guide.store_id)
    return relations.filter(guide=guide)


def can_see(guide: Guide, customer_id: int) -> bool:
    return customer_relations_for(guide, customer_id).exists()
