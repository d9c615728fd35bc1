from django.urls import path

from tagging import views

app_name = "tagging"

# Tags and groups are named by their WeCom ids, as in the API.
urlpatterns = [
    path("", views.tags, name="tags"),
    path("pull/", views.pull, name="pull"),
    path("groups/new/", views.group_create, name="group_create"),
    path("groups/<str:group_id>/add/", views.group_tags_add, name="group_tags_add"),
    path("groups/<str:group_id>/rename/", views.group_rename, name="group_rename"),
    path("groups/<str:group_id>/delete/", views.group_delete, name="group_delete"),
    path("relations/<int:pk>/", views.relation_tags, name="relation_tags"),
    path("<str:tag_id>/rename/", views.tag_rename_view, name="tag_rename"),
    path("<str:tag_id>/delete/", views.tag_delete_view, name="tag_delete"),
]
