from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import AuditLogEntry, User


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    """Platform staff (public schema)."""

    list_display = ["username", "email", "is_staff", "is_superuser", "is_active", "last_login"]


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "action", "target_label", "ip_address"]
    list_filter = ["action"]
    search_fields = ["actor_label", "target_label", "action"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
