from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name


class TenantMiddleware(TenantMainMiddleware):
    """Route by host (django-tenants); a deactivated tenant gets a 403 page, nothing else."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        response: HttpResponse | None = super().process_request(request)
        if response is not None:
            return response
        tenant = request.tenant  # type: ignore[attr-defined]
        if tenant.schema_name != get_public_schema_name() and not tenant.is_active:
            return render(request, "tenant_inactive.html", {"tenant": tenant}, status=403)
        return None
