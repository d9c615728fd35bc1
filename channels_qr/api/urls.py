"""API URLs of channels."""

from rest_framework.routers import DefaultRouter

from channels_qr.api.views import ChannelGroupViewSet, ChannelViewSet, WelcomeMessageViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("channel-groups", ChannelGroupViewSet, basename="channel-group")
router.register("channels", ChannelViewSet, basename="channel")
router.register("welcome-messages", WelcomeMessageViewSet, basename="welcome-message")

urlpatterns = router.urls
