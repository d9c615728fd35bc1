from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

CALLBACK_PATH_PREFIX = "/wecom/callback/"


class TenantMiddleware(TenantMainMiddleware):
    """Route by host (django-tenants); a deactivated tenant gets a 403 page, nothing else.

    WeCom callbacks are the exception: WeCom calls one fixed URL per app, which names the
    corp, so they skip the host lookup and the view selects the tenant itself.
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path_info.startswith(CALLBACK_PATH_PREFIX):
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            request.urlconf = "scrm.wecom.urls_callback"  # type: ignore[attr-defined]
            return None
        response: HttpResponse | None = super().process_request(request)
        if response is not None:
            return response
        tenant = request.tenant  # type: ignore[attr-defined]
        if tenant.schema_name != get_public_schema_name() and not tenant.is_active:
            return render(request, "tenant_inactive.html", {"tenant": tenant}, status=403)
        return None
