"""API URLs of group sends."""

from rest_framework.routers import DefaultRouter

from broadcast.api.views import BroadcastViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("broadcasts", BroadcastViewSet, basename="broadcast")

urlpatterns = router.urls
