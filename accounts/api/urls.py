from rest_framework.routers import DefaultRouter

from accounts.api.views import APIKeyViewSet, AuditLogEntryViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("audit-log", AuditLogEntryViewSet, basename="audit-log")
router.register("api-keys", APIKeyViewSet, basename="api-key")

urlpatterns = router.urls
