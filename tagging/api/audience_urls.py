"""API URLs of segments, auto-tag rules and bulk tagging jobs."""

from rest_framework.routers import DefaultRouter

from tagging.api.audience_views import BulkTagJobViewSet, SegmentViewSet, TagRuleViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("segments", SegmentViewSet, basename="segment")
router.register("tag-rules", TagRuleViewSet, basename="tag-rule")
router.register("bulk-tag-jobs", BulkTagJobViewSet, basename="bulk-tag-job")

urlpatterns = router.urls
