from django.urls import path
from rest_framework.routers import DefaultRouter

from tagging.api.views import RelationTagsView, TagGroupViewSet, TagViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("tag-groups", TagGroupViewSet, basename="tag-group")
router.register("tags", TagViewSet, basename="tag")

urlpatterns = [
    *router.urls,
    path("relations/<str:id>/tags/", RelationTagsView.as_view(), name="relation-tags"),
]
