"""The console's navigation: one entry per feature, in the order operators work."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    key: str
    label: Promise
    url_name: str  # empty until the feature ships: shown as "coming soon"
    admin_only: bool = False

    @property
    def url(self) -> str:
        if not self.url_name:
            return ""
        try:
            return reverse(self.url_name)
        except NoReverseMatch:
            return ""


NAVIGATION: list[tuple[Promise, list[NavItem]]] = [
    (
        _("Customers"),
        [
            NavItem("home", _("Overview"), "dashboard:home"),
            NavItem("customers", _("Customers"), "contacts:customers"),
            NavItem("lifecycle", _("Lifecycle stages"), "lifecycle:settings"),
            NavItem("guides", _("Guides"), "contacts:guides"),
            NavItem("group_chats", _("Group chats"), "contacts:group_chats"),
            NavItem("deletions", _("Deletion alerts"), "contacts:deletions"),
            NavItem("sync", _("Sync with WeCom"), "contacts:sync"),
            NavItem("tags", _("Tags"), "tagging:tags"),
            NavItem("segments", _("Segments"), "audience:segments"),
            NavItem("rules", _("Auto-tag rules"), "audience:rules"),
            NavItem("bulk_jobs", _("Bulk tagging"), "audience:bulk_jobs"),
            NavItem("orders", _("Orders & events"), "orders:list"),
        ],
    ),
    (
        _("Growth"),
        [
            NavItem("channels", _("Channels & live QR codes"), "channels:list"),
            NavItem("quick_replies", _("Quick replies"), "sidebar:console_quick_replies"),
            NavItem("broadcasts", _("Group sends"), "broadcast:list"),
            NavItem("handover", _("Handover"), "handover:list"),
        ],
    ),
    (
        _("Settings"),
        [
            NavItem("wecom", _("WeCom connection"), "wecom:connection", admin_only=True),
            NavItem("sidebar_settings", _("Guide sidebar"), "sidebar:console_settings"),
            NavItem("callback_events", _("Callback events"), "wecom:callback_events"),
            NavItem("api_keys", _("API keys"), "accounts:api_keys", admin_only=True),
            NavItem("webhooks", _("Webhooks"), "webhooks:list", admin_only=True),
            NavItem("audit_log", _("Audit log"), "accounts:audit_log", admin_only=True),
            NavItem("privacy", _("Privacy"), "privacy:settings", admin_only=True),
            NavItem("api_docs", _("API documentation"), "api-docs"),
        ],
    ),
]
