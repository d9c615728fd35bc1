"""Console URLs of channels (渠道活码)."""

from django.urls import path

from channels_qr import views

app_name = "channels"

urlpatterns = [
    path("", views.channels, name="list"),
    path("new/", views.channel_new, name="new"),
    path("groups/", views.groups, name="groups"),
    path("groups/<int:pk>/rename/", views.group_rename, name="group_rename"),
    path("groups/<int:pk>/delete/", views.group_delete, name="group_delete"),
    path("welcome/", views.welcomes, name="welcomes"),
    path("welcome/new/", views.welcome_new, name="welcome_new"),
    path("welcome/<int:pk>/edit/", views.welcome_edit, name="welcome_edit"),
    path("welcome/<int:pk>/delete/", views.welcome_delete, name="welcome_delete"),
    path("<int:pk>/", views.channel_detail, name="detail"),
    path("<int:pk>/edit/", views.channel_edit, name="edit"),
    path("<int:pk>/delete/", views.channel_delete_view, name="delete"),
    path("<int:pk>/stats.json", views.channel_stats_json, name="stats_json"),
    path("<int:pk>/stats.csv", views.channel_stats_csv, name="stats_csv"),
]
