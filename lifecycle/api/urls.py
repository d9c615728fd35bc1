"""API URLs of lifecycle stages."""

from rest_framework.routers import DefaultRouter

from lifecycle.api.views import CustomerStageViewSet, StageCountViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("lifecycle/stage-counts", StageCountViewSet, basename="lifecycle-stage-count")
router.register("lifecycle/customers", CustomerStageViewSet, basename="lifecycle-customer")

urlpatterns = router.urls
