"""Shapes of the webhooks API. Input serializers check shapes only; which URLs may receive
webhooks (SSRF) and which events exist are the services' rules. A secret appears in a
response only when it is created or rotated."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks.events import EVENT_TYPES
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import DESCRIPTION_MAX, SECRET_MAX, SECRET_MIN
from webhooks.targets import URL_MAX


def _choices_help(choices: Any) -> str:
    return ", ".join(f"`{value}` ({label})" for value, label in choices.choices)


EVENT_TYPES_HELP = ", ".join(f"`{name}` ({label})" for name, label in EVENT_TYPES.items())


class WebhookEndpointSerializer(serializers.ModelSerializer):
    enabled = serializers.BooleanField(source="is_enabled", read_only=True)
    event_types = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text=EVENT_TYPES_HELP
    )
    disabled_by = serializers.CharField(
        read_only=True,
        help_text=_choices_help(Endpoint.DisabledBy) + "; empty while enabled.",
    )
    consecutive_failures = serializers.IntegerField(
        read_only=True,
        help_text="Deliveries in a row that failed after every retry (0 after a success).",
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "disabled_at",
            "disabled_by",
            "consecutive_failures",
            "last_success_at",
            "last_failure_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=URL_MAX,
        help_text="http:// or https://. Hosts on private, loopback or link-local networks "
        "are refused unless the platform allows them (WEBHOOK_ALLOW_PRIVATE_TARGETS).",
    )
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX, required=False, allow_blank=True, default=""
    )
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=40),
        min_length=1,
        max_length=len(EVENT_TYPES),
        help_text="The events sent to it: " + EVENT_TYPES_HELP,
    )
    secret = serializers.CharField(
        min_length=SECRET_MIN,
        max_length=SECRET_MAX,
        required=False,
        write_only=True,
        help_text="Create only: your own signing secret. Absent: one is generated and "
        "answered once.",
    )
    enabled = serializers.BooleanField(
        required=False,
        help_text="Update only: `true` enables it again (its failures are forgotten), "
        "`false` disables it.",
    )


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.SerializerMethodField(
        help_text="The signing secret: answered only here and by rotate-secret; store it."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_secret(self, endpoint: Endpoint) -> str:
        return str(self.context.get("secret", ""))


class WebhookRotateSerializer(serializers.Serializer):
    keep_previous = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Sign with the old secret too for 24 hours (`false`: stop at once, for a "
        "leaked secret).",
    )


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret, answered only here.")
    previous_secret_valid_until = serializers.DateTimeField(
        allow_null=True, help_text="Until then requests carry a signature with each secret."
    )


class WebhookEventSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="`evt_…`: deduplicate by it.")
    type = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class WebhookAttemptSerializer(serializers.ModelSerializer):
    failure = serializers.CharField(
        read_only=True, help_text=_choices_help(Attempt.Failure) + "; empty for a 2xx answer."
    )
    response_excerpt = serializers.CharField(
        read_only=True, help_text="The first 1 KB of the answer's body, as text."
    )

    class Meta:
        model = Attempt
        fields = [
            "number",
            "started_at",
            "status_code",
            "latency_ms",
            "failure",
            "error",
            "response_excerpt",
        ]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    event = WebhookEventSerializer(read_only=True)
    trigger = serializers.CharField(read_only=True, help_text=_choices_help(Delivery.Trigger))
    status = serializers.CharField(read_only=True, help_text=_choices_help(Delivery.Status))
    redelivery_of = serializers.IntegerField(
        source="redelivery_of_id", read_only=True, allow_null=True
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint",
            "event",
            "trigger",
            "redelivery_of",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    # Named as in the body; DRF's metaclass takes fields out of the class, so the
    # serializer's `.data` is not shadowed.
    data = serializers.JSONField(  # type: ignore[assignment]
        source="event.data", read_only=True, help_text="The event's `data` as sent."
    )
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "data", "attempt_log"]
        read_only_fields = fields


class WebhookDeliveryListParams(serializers.Serializer):
    endpoint = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Only this endpoint's."
    )
    status = serializers.MultipleChoiceField(
        choices=Delivery.Status.choices,
        required=False,
        help_text="Only these statuses; repeat for several (`?status=failed&status=pending`).",
    )
    event_type = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="Only this event type."
    )
    event_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="Only deliveries of this event (`evt_…`, as in the body's `id`).",
    )
