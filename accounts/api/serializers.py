from rest_framework import serializers

from accounts.audit import audit_action_label
from accounts.models import APIKey, AuditLogEntry


class AuditLogListParams(serializers.Serializer):
    action = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="Only entries of this action code (e.g. `handover.started`).",
    )


class AuditLogEntrySerializer(serializers.ModelSerializer):
    action_label = serializers.SerializerMethodField()

    class Meta:
        model = AuditLogEntry
        fields = [
            "id",
            "created_at",
            "action",
            "action_label",
            "actor_type",
            "actor_label",
            "target_type",
            "target_id",
            "target_label",
            "detail",
            "ip_address",
        ]
        read_only_fields = fields

    def get_action_label(self, entry: AuditLogEntry) -> str:
        return audit_action_label(entry.action)


class APIKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = APIKey
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "sees_phones",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class APIKeyRotatedSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The new key. Shown once: store it now.")
    api_key = APIKeySerializer(help_text="The new key's record.")
    previous_key_valid_until = serializers.DateTimeField(
        help_text="The calling key is refused from this time on."
    )
