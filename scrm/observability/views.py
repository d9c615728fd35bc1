"""The platform admin's health page (public host, staff only)."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from scrm.observability.health import as_json, platform_health


def health_page(request: HttpRequest) -> HttpResponse:
    health = platform_health()
    if request.GET.get("format") == "json":
        return JsonResponse(as_json(health))
    context = {
        **admin.site.each_context(request),
        "title": _("Platform health"),
        "health": health,
        "alarm_count": sum(1 for t in health.tenants if t.alarms),
    }
    return TemplateResponse(request, "admin/health.html", context)
