from django.urls import path

from scrm.wecom import views

app_name = "wecom"

urlpatterns = [
    path("connection/", views.connection, name="connection"),
    path("events/", views.callback_events, name="callback_events"),
    path("events/<int:pk>/retry/", views.callback_event_retry_view, name="callback_event_retry"),
]
