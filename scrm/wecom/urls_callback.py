"""URL conf for callback requests (selected by the tenant middleware, no host routing)."""

from django.urls import path

from scrm.wecom.callbacks import wecom_callback

urlpatterns = [
    path("wecom/callback/<str:corp_id>/<str:app_kind>/", wecom_callback, name="wecom-callback"),
]
