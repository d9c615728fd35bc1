"""API URLs of privacy: /customers/{id}/export/ and /customers/{id}/erase/."""

from rest_framework.routers import DefaultRouter

from privacy.api.views import CustomerPrivacyViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("customers", CustomerPrivacyViewSet, basename="customer-privacy")

urlpatterns = router.urls
