"""Shapes of the contacts API. Output only, apart from the remark edit's input.

Phone numbers are masked (138****5678) unless the serializer context says the caller's key
may read them (`sees_phones`); views put that in the context.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.models import (
    Customer,
    CustomerEvent,
    GroupChat,
    GroupChatMember,
    Guide,
    Relation,
    Store,
    SyncRun,
)
from contacts.privacy import mask_phone
from contacts.services import DESCRIPTION_MAX, REMARK_MAX, REMARK_MOBILES_MAX
from scrm.api.schema import Envelope

# Keys of timeline data that hold phone numbers (a remark edit records before and after).
PHONE_KEYS = frozenset({"remark_mobiles", "mobiles", "mobile", "phone"})


def sees_phones(context: dict[str, Any]) -> bool:
    return bool(context.get("sees_phones", False))


def mask_phones_in(value: Any) -> Any:
    """`value` with every phone under a PHONE_KEYS key masked, however deep."""
    if isinstance(value, dict):
        return {
            key: _masked(item) if key in PHONE_KEYS else mask_phones_in(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_phones_in(item) for item in value]
    return value


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phone(value)
    if isinstance(value, list):
        return [mask_phone(item) if isinstance(item, str) else item for item in value]
    return value


class PhoneListField(serializers.ListField):
    """Phone numbers, masked unless the key may read them."""

    child = serializers.CharField()

    def to_representation(self, data: Any) -> list[Any]:
        phones = [str(phone) for phone in data or []]
        if sees_phones(self.context):
            return phones
        return [mask_phone(phone) for phone in phones]


class StoreRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "department_id", "name"]
        read_only_fields = fields


class StoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "department_id", "name", "parent_department_id", "order", "synced_at"]
        read_only_fields = fields


class GuideRefSerializer(serializers.ModelSerializer):
    """A guide inside another object."""

    store = StoreRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Guide
        fields = ["id", "userid", "name", "store"]
        read_only_fields = fields


class GuideBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Guide
        fields = ["id", "userid", "name"]
        read_only_fields = fields


class GuideSerializer(serializers.ModelSerializer):
    store = StoreRefSerializer(read_only=True, allow_null=True)
    active_customers = serializers.IntegerField(
        read_only=True, help_text="Customers whose relation with this guide is active."
    )
    recent_adds = serializers.IntegerField(
        read_only=True, help_text="Customers added in the last `days` days (default 7)."
    )
    recent_deletes = serializers.IntegerField(
        read_only=True, help_text="Relations deleted (either side) in the last `days` days."
    )

    class Meta:
        model = Guide
        fields = [
            "id",
            "userid",
            "name",
            "position",
            "store",
            "department_ids",
            "status",
            "departed_at",
            "customer_contact",
            "active_customers",
            "recent_adds",
            "recent_deletes",
        ]
        read_only_fields = fields


class RelationSerializer(serializers.ModelSerializer):
    """A guide x customer relation, as nested in a customer."""

    guide = GuideRefSerializer(read_only=True)
    remark_mobiles = PhoneListField(
        read_only=True, help_text="Masked (138****5678) unless the key may read phone numbers."
    )
    wecom_tag_ids = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Relation
        fields = [
            "id",
            "guide",
            "remark",
            "description",
            "remark_mobiles",
            "add_way",
            "state",
            "added_at",
            "status",
            "status_changed_at",
            "wecom_tag_ids",
        ]
        read_only_fields = fields


class CustomerRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "external_userid", "name", "avatar", "type"]
        read_only_fields = fields


class RelationDetailSerializer(RelationSerializer):
    """A relation on its own: with its customer."""

    customer = CustomerRefSerializer(read_only=True)

    class Meta(RelationSerializer.Meta):
        fields = ["id", "customer", *RelationSerializer.Meta.fields[1:], "deleted_at"]
        read_only_fields = fields


class CustomerSerializer(serializers.ModelSerializer):
    relations = RelationSerializer(
        many=True, read_only=True, help_text="Every guide relation, newest add first."
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_userid",
            "name",
            "avatar",
            "type",
            "gender",
            "unionid",
            "corp_name",
            "last_added_at",
            "relations",
        ]
        read_only_fields = fields


class CustomerEventSerializer(serializers.ModelSerializer):
    """A timeline entry; `data` holds details by kind, phone numbers masked unless the key
    may read them."""

    guide = GuideBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CustomerEvent
        fields = ["id", "kind", "occurred_at", "guide", "data"]
        read_only_fields = fields
        extra_kwargs = {
            "data": {
                "help_text": "Details by kind (e.g. an edit's new values and `before`); "
                "phone numbers masked unless the key may read them."
            }
        }

    def to_representation(self, instance: CustomerEvent) -> dict[str, Any]:
        shaped: dict[str, Any] = super().to_representation(instance)
        if not sees_phones(self.context):
            shaped["data"] = mask_phones_in(shaped["data"])
        return shaped


class GroupChatSerializer(serializers.ModelSerializer):
    owner = GuideRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = GroupChat
        fields = [
            "id",
            "chat_id",
            "name",
            "owner",
            "owner_userid",
            "notice",
            "status",
            "member_count",
            "customer_count",
            "created_at",
            "dismissed_at",
            "synced_at",
        ]
        read_only_fields = fields


class GroupChatMemberSerializer(serializers.ModelSerializer):
    guide_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Our guide id, for staff members."
    )
    customer_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Our customer id, for known customers."
    )

    class Meta:
        model = GroupChatMember
        fields = [
            "id",
            "kind",
            "userid",
            "guide_id",
            "customer_id",
            "name",
            "group_nickname",
            "unionid",
            "join_time",
            "join_scene",
            "invitor_userid",
            "is_admin",
        ]
        read_only_fields = fields


class GroupChatDetailSerializer(GroupChatSerializer):
    """A chat with its members; the view loads them into `member_list`."""

    members = GroupChatMemberSerializer(
        many=True, read_only=True, source="member_list", help_text="Staff first, then by join."
    )

    class Meta(GroupChatSerializer.Meta):
        fields = [*GroupChatSerializer.Meta.fields, "members"]
        read_only_fields = fields


class SyncProgressSerializer(serializers.Serializer):
    guides_total = serializers.IntegerField(help_text="Guides this run walks.")
    guide_batches_total = serializers.IntegerField(help_text="Batches of 100 guides.")
    guide_batches_done = serializers.IntegerField(help_text="Batches finished.")
    group_chats_done = serializers.IntegerField(help_text="Group chats synced so far.")


class SyncRunSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "status",
            "phase",
            "trigger",
            "progress",
            "stats",
            "error",
            "created_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(SyncProgressSerializer)
    def get_progress(self, run: SyncRun) -> dict[str, int]:
        # Lists annotate the totals and leave the (long) userid list unloaded.
        guides_total = getattr(run, "guide_total", None)
        if guides_total is None:
            guides_total = len(run.guide_userids)
        batches_total = getattr(run, "batch_total", None)
        if batches_total is None:
            batches_total = run.batch_count
        return {
            "guides_total": guides_total,
            "guide_batches_total": batches_total,
            "guide_batches_done": min(run.batch_index, batches_total),
            "group_chats_done": run.chat_ids_done,
        }


class SyncRunListSerializer(Envelope):
    results = SyncRunSerializer(many=True, help_text="The latest full syncs, newest first.")


class RelationRemarkSerializer(serializers.Serializer):
    """The body of PATCH /relations/{id}/: any of the three; what is sent is written."""

    remark = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=REMARK_MAX,
        trim_whitespace=False,
        help_text=f"The guide's name for the customer (at most {REMARK_MAX} characters).",
    )
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=DESCRIPTION_MAX,
        trim_whitespace=False,
        help_text=f"Description (at most {DESCRIPTION_MAX} characters).",
    )
    remark_mobiles = serializers.ListField(
        child=serializers.RegexField(
            r"^\+?\d+$",
            max_length=20,
            error_messages={"invalid": _("Digits only, with an optional leading +.")},
        ),
        required=False,
        allow_empty=True,
        max_length=REMARK_MOBILES_MAX,
        help_text=f"Phone numbers, at most {REMARK_MOBILES_MAX}; replaces the list.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                _("Send at least one of remark, description, remark_mobiles.")
            )
        return attrs


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class WeComRefusalSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong; nothing was saved.")
    errcode = serializers.IntegerField(
        allow_null=True, help_text="WeCom's errcode (null when WeCom could not be reached)."
    )
    meaning = serializers.CharField(help_text="What the errcode means, in the request language.")
    retryable = serializers.BooleanField(
        help_text="True when the same request may succeed later (WeCom busy, rate limit)."
    )


class SyncConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    run = SyncRunSerializer(help_text="The sync already queued or running.")
