"""The sidebar's pages and JSON endpoints. Every endpoint with customer data runs for the
guide of the request's token and checks on the server that the guide may see the customer."""

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from contacts.models import Customer, Relation
from scrm.wecom.client import WeComNotConnected, wecom_client
from scrm.wecom.errors import WeComError
from scrm.wecom.jssdk import jssdk_config, jssdk_scripts
from sidebar.auth import TOKEN_HEADER, can_see, guide_required

JS_API_LIST = ["getCurExternalContact", "getContext", "sendChatMessage"]


@require_GET
@xframe_options_exempt
def home(request: HttpRequest) -> HttpResponse:
    """The shell WeCom opens: it signs the guide in, configures the JS-SDK, asks WeCom which
    customer the chat is with and shows them. It holds no data itself."""
    try:
        credentials = wecom_client(app_kind="customer_contact").credentials
        scripts = jssdk_scripts(credentials.api_base_url)
    except WeComNotConnected:
        scripts = []
    return render(
        request,
        "sidebar/home.html",
        {
            "scripts": scripts,
            "token_header": TOKEN_HEADER,
            "login_url": reverse("sidebar:login"),
            "config_url": reverse("sidebar:jssdk_config"),
            "js_api_list": JS_API_LIST,
        },
    )


@require_GET
@guide_required
def jssdk_config_view(request: HttpRequest) -> JsonResponse:
    """Signed wx.config and wx.agentConfig parameters for a page of this host."""
    url = request.GET.get("url", "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != request.get_host():
        return JsonResponse({"error": _("url must be a page of this site")}, status=400)
    try:
        signed = jssdk_config(
            client=wecom_client(app_kind="customer_contact"),
            url=url.split("#", 1)[0],
            js_api_list=JS_API_LIST,
        )
    except WeComError as exc:
        return JsonResponse({"error": exc.meaning or str(exc)}, status=502)
    return JsonResponse({"config": signed.config, "agentConfig": signed.agent_config})


def _customer_json(customer: Customer, guide_relations: Any) -> dict[str, Any]:
    relations = list(
        Relation.objects.filter(customer=customer, status=Relation.Status.ACTIVE)
        .select_related("guide", "channel")
        .order_by("added_at")
    )
    mine = next((r for r in relations if r in guide_relations), relations[0] if relations else None)
    return {
        "external_userid": customer.external_userid,
        "name": customer.name,
        "avatar": customer.avatar,
        "remark": mine.remark if mine else "",
        "phones": list(mine.remark_mobiles) if mine else [],
        "channel": mine.channel.name if mine and mine.channel else "",
        "added_at": mine.added_at.isoformat() if mine else None,
        "guides": [r.guide.name for r in relations],
    }


@require_GET
@guide_required
def customer(request: HttpRequest, external_userid: str) -> JsonResponse:
    found = Customer.objects.filter(external_userid=external_userid).first()
    if found is None:
        return JsonResponse({"error": _("no such customer")}, status=404)
    guide = request.guide  # type: ignore[attr-defined]
    if not can_see(guide, found.pk):
        return JsonResponse({"error": _("this customer is not yours")}, status=403)
    from sidebar.auth import customer_relations_for

    return JsonResponse(_customer_json(found, list(customer_relations_for(guide, found.pk))))
