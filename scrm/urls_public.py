"""URLs of the public host: the platform admin."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from scrm.observability.metrics import metrics
from scrm.observability.views import health_page
from scrm.views import healthz, ping

admin.site.site_header = "SCRM 平台管理 / Platform admin"
admin.site.site_title = "SCRM 平台管理"
admin.site.index_template = "admin/scrm_index.html"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/health/", admin.site.admin_view(health_page), name="platform_health"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("ping", ping, name="ping"),
    path("metrics", metrics, name="metrics"),
]
