"""Console URLs of handovers (离职继承 / 在职继承)."""

from django.urls import path

from handover import views

app_name = "handover"

urlpatterns = [
    path("", views.handovers, name="list"),
    path("new/", views.handover_new, name="new"),
    path("settings/", views.handover_settings_view, name="settings"),
    path("<int:pk>/", views.handover_detail, name="detail"),
    path("<int:pk>/progress.json", views.handover_progress, name="progress"),
    path("<int:pk>/items.csv", views.handover_items_csv, name="items_csv"),
    path("<int:pk>/cancel/", views.handover_cancel_view, name="cancel"),
    path("<int:pk>/reallocate/", views.handover_reallocate, name="reallocate"),
]
