from rest_framework.routers import DefaultRouter

from contacts.api.views import (
    CustomerViewSet,
    GroupChatViewSet,
    GuideViewSet,
    RelationViewSet,
    StoreViewSet,
    SyncRunViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("customers", CustomerViewSet, basename="customer")
router.register("relations", RelationViewSet, basename="relation")
router.register("guides", GuideViewSet, basename="guide")
router.register("stores", StoreViewSet, basename="store")
router.register("group-chats", GroupChatViewSet, basename="group-chat")
router.register("contacts/sync", SyncRunViewSet, basename="contacts-sync")

urlpatterns = router.urls
