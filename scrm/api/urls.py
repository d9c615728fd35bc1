"""The /api/v1/ namespace: each app contributes its own router."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("contacts.api.urls")),
    path("", include("tagging.api.urls")),
    path("", include("tagging.api.audience_urls")),
    path("", include("channels_qr.api.urls")),
    path("", include("broadcast.api.urls")),
    path("", include("handover.api.urls")),
    path("", include("lifecycle.api.urls")),
    path("", include("webhooks.api.urls")),
    path("", include("privacy.api.urls")),
    path("", include("orders.api.urls")),
]
