"""Console URLs of group sends (群发)."""

from django.urls import path

from broadcast import views

app_name = "broadcast"

urlpatterns = [
    path("", views.broadcasts, name="list"),
    path("new/", views.broadcast_new, name="new"),
    path("settings/", views.broadcast_settings_view, name="settings"),
    path("segment-count.json", views.segment_count_view, name="segment_count"),
    path("<int:pk>/", views.broadcast_detail, name="detail"),
    path("<int:pk>/progress.json", views.broadcast_progress_view, name="progress"),
    path("<int:pk>/plan/", views.broadcast_plan_view, name="plan"),
    path("<int:pk>/confirm/", views.broadcast_confirm_view, name="confirm"),
    path("<int:pk>/cancel/", views.broadcast_cancel_view, name="cancel"),
    path("<int:pk>/remind/", views.broadcast_remind_view, name="remind"),
    path("<int:pk>/refresh/", views.broadcast_refresh_view, name="refresh"),
    path("<int:pk>/results.csv", views.broadcast_export, name="export"),
]
