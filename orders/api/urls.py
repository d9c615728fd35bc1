"""API URLs of orders, custom events and order imports."""

from rest_framework.routers import DefaultRouter

from orders.api.views import EventViewSet, OrderImportViewSet, OrderViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("orders", OrderViewSet, basename="order")
router.register("events", EventViewSet, basename="event")
router.register("order-imports", OrderImportViewSet, basename="order-import")

urlpatterns = router.urls
