"""URLs of a tenant host: console, REST API, the guide sidebar."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from scrm.views import healthz

handler400 = "scrm.views.bad_request"
handler404 = "scrm.views.not_found"
handler500 = "scrm.views.server_error"

urlpatterns = [
    path("", include("dashboard.urls")),
    path("", include("contacts.urls")),
    path("", include("tagging.audience_urls")),
    path("tags/", include("tagging.urls")),
    path("channels/", include("channels_qr.download_urls")),
    path("channels/", include("channels_qr.urls")),
    path("broadcasts/", include("broadcast.urls")),
    path("handover/", include("handover.urls")),
    path("orders/", include("orders.urls")),
    path("lifecycle/", include("lifecycle.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("privacy/", include("privacy.urls")),
    path("accounts/", include("accounts.urls")),
    path("wecom/", include("scrm.wecom.urls")),
    path("sidebar/", include("sidebar.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("scrm.api.urls")),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
    path("healthz", healthz, name="healthz"),
]
