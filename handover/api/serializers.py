"""Shapes of the handovers API. Input serializers check shapes only; which guides may be
handed over, who may take over and what WeCom allows are the services' rules."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.api.filters import MAX_ID
from contacts.models import Guide
from handover.allocation import reason_text
from handover.models import Handover, TransferItem
from handover.services import MESSAGE_MAX

USERIDS_MAX = 500
MAPPING_MAX = 200_000


def _choices_help(choices: Any) -> str:
    return ", ".join(f"`{value}` ({label})" for value, label in choices.choices)


def _userids(help_text: str, *, required: bool = True) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=USERIDS_MAX,
        required=required,
        default=list if not required else serializers.empty,
        help_text=help_text,
    )


class HandoverGuideSerializer(serializers.ModelSerializer):
    class Meta:
        model = Guide
        fields = ["id", "userid", "name"]
        read_only_fields = fields


class HandoverCountsSerializer(serializers.Serializer):
    """Items per status, with `total` and `final` (WeCom or the platform will not change)."""

    total = serializers.IntegerField()
    final = serializers.IntegerField()
    pending = serializers.IntegerField()
    sending = serializers.IntegerField()
    waiting = serializers.IntegerField()
    accepted = serializers.IntegerField()
    refused = serializers.IntegerField()
    lost = serializers.IntegerField()
    taker_full = serializers.IntegerField()
    skipped = serializers.IntegerField()
    unallocated = serializers.IntegerField()
    failed = serializers.IntegerField()
    gone = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class HandoverSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(
        read_only=True, help_text=_choices_help(Handover.Kind) + "; empty for a proposal."
    )
    status = serializers.CharField(read_only=True, help_text=_choices_help(Handover.Status))
    trigger = serializers.CharField(read_only=True, help_text=_choices_help(Handover.Trigger))
    mode = serializers.CharField(read_only=True, help_text=_choices_help(Handover.Mode))
    from_guides = HandoverGuideSerializer(many=True, read_only=True)
    takers = HandoverGuideSerializer(many=True, read_only=True)
    store = serializers.SerializerMethodField(
        help_text="WeCom department id of the store whose guides take over (`even_chosen_store`)."
    )
    counts = serializers.SerializerMethodField(help_text="Items per status.")

    class Meta:
        model = Handover
        fields = [
            "id",
            "kind",
            "status",
            "trigger",
            "mode",
            "from_guides",
            "takers",
            "store",
            "max_per_guide",
            "include_chats",
            "message",
            "start_after",
            "note",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "counts",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_store(self, handover: Handover) -> int | None:
        return handover.store.department_id if handover.store else None

    @extend_schema_field(HandoverCountsSerializer)
    def get_counts(self, handover: Handover) -> dict[str, int]:
        counts: dict[int, dict[str, int]] = self.context.get("counts", {})
        return counts.get(handover.pk, {})


class MappingRowSerializer(serializers.Serializer):
    external_userid = serializers.CharField(max_length=64)
    takeover_userid = serializers.CharField(max_length=64)


class HandoverPlanSerializer(serializers.Serializer):
    """The body of a start or a preview."""

    from_guides = _userids(
        "WeCom userids of the guides handed over: all departed (a resigned transfer) or all "
        "working (an on-duty transfer)."
    )
    mode = serializers.ChoiceField(
        choices=Handover.Mode.choices, help_text=_choices_help(Handover.Mode)
    )
    takers = _userids(
        "Takeover guides' userids, for `one` (exactly one) and `even_list`.", required=False
    )
    store = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_ID,
        help_text="WeCom department id of the store whose guides take over, for "
        "`even_chosen_store`.",
    )
    mapping = serializers.ListField(
        child=MappingRowSerializer(),
        required=False,
        default=list,
        max_length=MAPPING_MAX,
        help_text="For `csv`: which guide takes which customer. Customers of the guides "
        "left out are `unallocated`.",
    )
    max_per_guide = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=1_000_000,
        help_text="A taker's active customers may not go over this (their customers now plus "
        "this handover's); the rest is `unallocated`. Null or absent: no maximum.",
    )
    include_chats = serializers.BooleanField(
        required=False, default=True, help_text="Hand over the guides' group chats too."
    )
    message = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MESSAGE_MAX,
        help_text="On-duty transfers: shown by WeCom to each customer (at most 200 "
        "characters). Absent: the brand's default message; ignored for departed guides.",
    )
    proposal = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Start this proposed handover (its id) rather than a new one.",
    )


class TakerLoadSerializer(serializers.Serializer):
    userid = serializers.CharField()
    name = serializers.CharField()
    current = serializers.IntegerField(help_text="Active customers now.")
    customers = serializers.IntegerField(help_text="Customers this handover gives them.")
    chats = serializers.IntegerField(help_text="Group chats this handover gives them.")


class ReasonCountSerializer(serializers.Serializer):
    target = serializers.CharField(help_text="`customer` or `chat`.")
    reason = serializers.CharField()
    count = serializers.IntegerField()


class CsvProblemSerializer(serializers.Serializer):
    value = serializers.CharField()
    reason = serializers.CharField()


class HandoverPreviewSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`resigned` or `on_duty`.")
    takers = TakerLoadSerializer(many=True)
    customers_to_send = serializers.IntegerField()
    chats_to_send = serializers.IntegerField()
    unallocated = serializers.IntegerField(help_text="Items with no taker (see `reasons`).")
    skipped = serializers.IntegerField(help_text="On duty: moved twice in 90 days already.")
    in_flight = serializers.IntegerField(
        help_text="Customers already in another handover's transfer, left out."
    )
    reasons = ReasonCountSerializer(many=True, help_text="Why items are unallocated.")
    mapping_problems = CsvProblemSerializer(many=True, help_text="Mapping rows not used.")


class ReallocateSerializer(serializers.Serializer):
    takers = _userids("Userids of the guides who take the failed items, evenly.")


class ReallocatedSerializer(serializers.Serializer):
    reallocated = serializers.IntegerField(help_text="Items sent to WeCom again.")
    handover = HandoverSerializer()


class CancelledSerializer(serializers.Serializer):
    cancelled = serializers.IntegerField(help_text="Items not yet sent, now cancelled.")
    handover = HandoverSerializer()


class TransferItemSerializer(serializers.ModelSerializer):
    target = serializers.CharField(read_only=True, help_text="`customer` or `chat`.")
    status = serializers.CharField(read_only=True, help_text=_choices_help(TransferItem.Status))
    external_id = serializers.CharField(
        read_only=True, help_text="The customer's external_userid or the chat's chat_id."
    )
    customer = serializers.IntegerField(source="customer_id", read_only=True, allow_null=True)
    chat = serializers.IntegerField(source="chat_id", read_only=True, allow_null=True)
    name = serializers.SerializerMethodField(help_text="The customer's or the chat's name.")
    from_guide = HandoverGuideSerializer(read_only=True)
    to_guide = HandoverGuideSerializer(read_only=True, allow_null=True)
    reason = serializers.SerializerMethodField(
        help_text="Why the item is not (or not yet) taken over, in the request's language."
    )

    class Meta:
        model = TransferItem
        fields = [
            "id",
            "target",
            "external_id",
            "customer",
            "chat",
            "name",
            "from_guide",
            "to_guide",
            "status",
            "reason",
            "errcode",
            "sent_at",
            "takeover_time",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_name(self, item: TransferItem) -> str:
        if item.target == TransferItem.Target.CHAT:
            return item.chat.name if item.chat else ""
        return item.customer.name if item.customer else ""

    @extend_schema_field(OpenApiTypes.STR)
    def get_reason(self, item: TransferItem) -> str:
        return reason_text(item.error) if item.error else ""


class TransferItemListParams(serializers.Serializer):
    status = serializers.MultipleChoiceField(
        choices=TransferItem.Status.choices,
        required=False,
        help_text="Only items with these statuses; repeat for several (`?status=failed"
        "&status=taker_full`).",
    )
