"""Shapes of the group sends API. Input serializers check shapes; the rules (an audience, a
sender rule, times that make sense) are the services'."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from broadcast.models import ATTACHMENTS_MAX, Broadcast, Delivery
from channels_qr.welcome_messages import WelcomeInputError, attachments_check
from contacts.api.filters import MAX_ID

ATTACHMENTS_HELP = (
    f"Up to {ATTACHMENTS_MAX}, sent after the text in this order: "
    '`{"msgtype": "image"|"file"|"video", "media": <media library id>}`, '
    '`{"msgtype": "link", "title", "url", "picurl"?, "desc"?}`, '
    '`{"msgtype": "miniprogram", "title", "appid", "page", "pic_media": <media library id>}`.'
)
TEXT_HELP = (
    "At most 4,000 bytes. `{guide_name}` is replaced by the sending guide's name; one WeCom "
    "template carries one text for all its customers, so there is no per-customer placeholder."
)
IDS_MAX = 100_000  # per request; bigger audiences are segments


def _id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class AttachmentsField(serializers.JSONField):
    """Attachments, checked for shape and known media ids (as welcome messages')."""

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        value = super().to_internal_value(data)
        try:
            return attachments_check(value)
        except WelcomeInputError as exc:
            raise serializers.ValidationError(str(exc)) from None


class BroadcastCreateSerializer(serializers.Serializer):
    """The body of POST /broadcasts/: exactly one of `segment`, `external_userids` or
    `chat_ids` names the audience."""

    name = serializers.CharField(max_length=200)
    text = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4000, help_text=TEXT_HELP
    )
    attachments = AttachmentsField(required=False, help_text=ATTACHMENTS_HELP)
    segment = _id_field(required=False, help_text="A saved segment's id (customers).")
    external_userids = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=IDS_MAX,
        help_text=f"The customers, by external_userid (at most {IDS_MAX:,} per request).",
    )
    chat_ids = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=IDS_MAX,
        help_text="Customer group chats, by chat_id: a send to group chats, by each chat's owner.",
    )
    sender_rule = serializers.ChoiceField(
        choices=Broadcast.SenderRule.choices,
        required=False,
        default=Broadcast.SenderRule.RECENT,
        help_text="Who sends to a customer several guides hold: `recent` (the guide who "
        "added them last), `first`, or `store` (a guide of `sender_store`, else the most "
        "recent).",
    )
    sender_store = _id_field(required=False, allow_null=True, help_text="Our store id.")
    send_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the templates are created in WeCom (default: at confirmation).",
    )
    quiet_start = serializers.TimeField(
        required=False, allow_null=True, help_text="HH:MM, Beijing time."
    )
    quiet_end = serializers.TimeField(
        required=False,
        allow_null=True,
        help_text="HH:MM; a window may span midnight (22:00-08:00). No template is "
        "created inside it.",
    )
    deadline = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Templates the guides have not sent by then are cancelled in WeCom.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [k for k in ("segment", "external_userids", "chat_ids") if k in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                _("Give exactly one audience: segment, external_userids or chat_ids.")
            )
        return attrs


class ProgressSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(
        choices=["templates", "results"],
        help_text="`templates` until every message template is created in WeCom, then `results`.",
    )
    done = serializers.IntegerField(
        help_text="templates: created; results: customers with a final result."
    )
    total = serializers.IntegerField(
        help_text="templates: all of them; results: customers handed to guides."
    )
    percent = serializers.FloatField()
    chunks_total = serializers.IntegerField(
        help_text="Message templates (one per guide, at most 10,000 customers each)."
    )
    chunks_created = serializers.IntegerField()
    deliveries_handed = serializers.IntegerField(help_text="Customers not excluded by the plan.")
    deliveries_final = serializers.IntegerField()


class BroadcastSerializer(serializers.ModelSerializer):
    segment = serializers.IntegerField(source="segment_id", read_only=True, allow_null=True)
    sender_store = serializers.IntegerField(
        source="sender_store_id", read_only=True, allow_null=True
    )
    attachments = serializers.JSONField(read_only=True, help_text=ATTACHMENTS_HELP)
    audience_size = serializers.SerializerMethodField()
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Customers per delivery status ("
        + ", ".join(Delivery.Status.values)
        + "); stored at planning and at each read of WeCom's results.",
    )
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Broadcast
        fields = [
            "id",
            "name",
            "status",
            "chat_type",
            "text",
            "attachments",
            "audience",
            "segment",
            "audience_size",
            "file_name",
            "sender_rule",
            "sender_store",
            "send_at",
            "quiet_start",
            "quiet_end",
            "deadline",
            "counts",
            "progress",
            "created_by",
            "created_at",
            "planned_at",
            "confirmed_by",
            "confirmed_at",
            "dispatched_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.IntegerField(
            allow_null=True,
            help_text="External_userids or chat_ids given (null for a segment).",
        )
    )
    def get_audience_size(self, broadcast: Broadcast) -> int | None:
        if broadcast.audience == Broadcast.Audience.SEGMENT:
            return None
        return len(broadcast.audience_ids)

    @extend_schema_field(
        ProgressSerializer(
            allow_null=True, help_text="On a single group send only (null in lists)."
        )
    )
    def get_progress(self, broadcast: Broadcast) -> dict[str, Any] | None:
        progress = self.context.get("progress")
        return ProgressSerializer(progress).data if progress else None


class DeliverySerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id", read_only=True, allow_null=True)
    chat = serializers.IntegerField(source="chat_id", read_only=True, allow_null=True)
    sender = serializers.IntegerField(source="sender_id", read_only=True, allow_null=True)
    sender_userid = serializers.SerializerMethodField()
    status = serializers.ChoiceField(
        choices=Delivery.Status.choices,
        read_only=True,
        help_text="planned, no_relation / dnd / over_cap (excluded by the plan), waiting (the "
        "template is with the guide), sent, not_friend, capped (WeCom's frequency rule), "
        "not_sent (not sent by the guide before the deadline, or deselected), cancelled, "
        "failed.",
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "target",
            "customer",
            "chat",
            "sender",
            "sender_userid",
            "status",
            "sent_at",
            "errcode",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_sender_userid(self, delivery: Delivery) -> str | None:
        return delivery.sender.userid if delivery.sender is not None else None


class DeliveryListParams(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Delivery.Status.choices,
        required=False,
        help_text="Only deliveries with this status: " + ", ".join(Delivery.Status.values),
    )


class RemindResultSerializer(serializers.Serializer):
    reminded = serializers.IntegerField(
        help_text="Guides reminded (WeCom allows 3 reminders per template per 24 hours)."
    )
