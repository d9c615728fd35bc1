"""API URLs of handovers."""

from rest_framework.routers import DefaultRouter

from handover.api.views import HandoverViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("handovers", HandoverViewSet, basename="handover")

urlpatterns = router.urls
