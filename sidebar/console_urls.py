"""Console pages of the sidebar, included under /sidebar/manage/ in the `sidebar` namespace
(the names start with `console_`)."""

from django.urls import path

from sidebar import console_views as views

urlpatterns = [
    path("quick-replies/", views.quick_replies, name="console_quick_replies"),
    path("quick-replies/new/", views.reply_new, name="console_reply_new"),
    path("quick-replies/<int:pk>/edit/", views.reply_edit, name="console_reply_edit"),
    path("quick-replies/<int:pk>/delete/", views.reply_delete, name="console_reply_delete"),
    path("quick-replies/folders/<int:pk>/edit/", views.folder_edit, name="console_folder_edit"),
    path(
        "quick-replies/folders/<int:pk>/delete/",
        views.folder_delete,
        name="console_folder_delete",
    ),
    path("settings/", views.settings_page, name="console_settings"),
]
