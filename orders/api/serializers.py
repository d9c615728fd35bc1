"""Shapes of the orders and events API. Input serializers check shapes only; whether an
order exists (so that fields may be left out), which customer it is and the store lookup are
the views' and services' business."""

import json
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.api.serializers import (
    CustomerRefSerializer,
    StoreRefSerializer,
    mask_phones_in,
    sees_phones,
)
from contacts.phones import phone_normalise
from contacts.privacy import mask_phone
from orders.imports import MAX_CSV_BYTES
from orders.matching import Keys
from orders.models import (
    CustomEvent,
    MatchedBy,
    MatchProblem,
    Order,
    OrderImport,
    OrderImportRow,
    plausible_moment,
)
from orders.services import MAX_BATCH

ITEMS_MAX = 200


def _plausible(value: Any) -> None:
    if not plausible_moment(value):
        raise serializers.ValidationError(
            _("Enter a time from 2000-01-01 to tomorrow (a typo in the year?).")
        )


def _moment(**kwargs: Any) -> serializers.DateTimeField:
    return serializers.DateTimeField(
        validators=[_plausible],
        help_text="ISO 8601, from 2000 to tomorrow; without an offset, Asia/Shanghai. "
        "`refunded_at` defaults to when `refunded` is first received.",
        **kwargs,
    )


PROPERTIES_MAX_BYTES = 8192


def _choices_help(choices: Any) -> str:
    return ", ".join(f"`{value}` ({label})" for value, label in choices.choices if value)


class CustomerKeysSerializer(serializers.Serializer):
    """external_userid, unionid, phone: at least one for a new order or any event."""

    external_userid = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="WeCom's external_userid of the customer (tried first).",
    )
    unionid = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The customer's WeChat unionid; known only when the corp bound a WeChat "
        "open platform account (tried second).",
    )
    phone = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="A phone number, compared with the remark phones guides entered, without "
        "spaces, dashes or +86 (tried last). A number two different customers carry matches "
        "nobody (`match_problem`: `ambiguous_phone`).",
    )

    def validate_phone(self, value: str) -> str:
        if not value.strip():
            return ""
        phone = phone_normalise(value)
        if not phone:
            raise serializers.ValidationError(_("Not a phone number."))
        return phone


def keys_of(body: dict[str, Any]) -> Keys | None:
    """The keys given (None when none is)."""
    keys = Keys(
        str(body.get("external_userid") or "").strip(),
        str(body.get("unionid") or "").strip(),
        str(body.get("phone") or ""),
    )
    return keys if keys else None


class OrderItemSerializer(serializers.Serializer):
    sku = serializers.CharField(required=False, allow_blank=True, max_length=64)
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(required=False, default=1, min_value=1, max_value=10**6)
    price = serializers.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=0,
        help_text="Unit price in yuan.",
    )


class OrderWriteSerializer(CustomerKeysSerializer):
    """One order. A new order needs amount, paid_at and a customer key; an update (same
    source and order_id) may send only what changed, e.g. `{"order_id": …, "status":
    "refunded"}`."""

    order_id = serializers.CharField(max_length=128, help_text="Your order number.")
    source = serializers.CharField(  # type: ignore[assignment]  # the field, not Field.source
        required=False,
        allow_blank=True,
        max_length=64,
        default="",
        help_text="Your system (`erp`, `tmall`, `mini-program`…): order ids are unique within "
        "a source. Default empty.",
    )
    amount = serializers.DecimalField(
        required=False, max_digits=12, decimal_places=2, min_value=0, help_text="Paid, in yuan."
    )
    # ListSerializer takes max_length; the stubs do not know it
    items = OrderItemSerializer(many=True, required=False, max_length=ITEMS_MAX)  # type: ignore[call-arg]
    paid_at = _moment(required=False)
    store = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=2**63 - 1,
        help_text="WeCom department id of the store that sold it.",
    )
    status = serializers.ChoiceField(
        choices=Order.Status.choices, required=False, help_text=_choices_help(Order.Status)
    )
    refunded_at = _moment(required=False, allow_null=True)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if "items" in value:
            value["items"] = [_item_json(item) for item in value["items"]]
        return value


def _item_json(item: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in item.items() if v not in ("", None)}
    if "price" in clean:
        clean["price"] = f"{clean['price']:.2f}"
    return clean


class OrderBatchWriteSerializer(serializers.Serializer):
    """The documented body of a batch; each order is checked on its own."""

    orders = OrderWriteSerializer(many=True, max_length=MAX_BATCH)  # type: ignore[call-arg]


class OrderBatchSerializer(serializers.Serializer):
    orders = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=MAX_BATCH
    )


class _KeysOutMixin(serializers.ModelSerializer):
    customer = CustomerRefSerializer(read_only=True, allow_null=True)
    matched_by = serializers.CharField(read_only=True, help_text=_choices_help(MatchedBy))
    match_problem = serializers.CharField(
        read_only=True,
        help_text="Why it is not matched (empty when matched): " + _choices_help(MatchProblem),
    )
    phone = serializers.SerializerMethodField(
        help_text="The phone given (normalised), masked unless the key may read phones."
    )

    @extend_schema_field(OpenApiTypes.STR)
    def get_phone(self, row: Any) -> str:
        return row.phone if sees_phones(self.context) else mask_phone(row.phone)


KEY_OUT_FIELDS = [
    "customer",
    "matched_by",
    "match_problem",
    "matched_at",
    "external_userid",
    "unionid",
    "phone",
]


class OrderSerializer(_KeysOutMixin):
    store = StoreRefSerializer(read_only=True, allow_null=True)
    items = OrderItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "source",
            "order_id",
            "amount",
            "items",
            "paid_at",
            "store",
            "status",
            "refunded_at",
            *KEY_OUT_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the request's list, from 0.")
    result = serializers.CharField(help_text="`created`, `updated` or `invalid`.")
    id = serializers.IntegerField(allow_null=True, help_text="Our id (null when invalid).")
    matched_by = serializers.CharField(allow_null=True)
    match_problem = serializers.CharField(allow_null=True)
    errors = serializers.DictField(  # type: ignore[assignment]  # a field named like the attribute
        child=serializers.JSONField(),
        help_text="By field (a list field's by position), for an invalid one (nothing was "
        "saved for it).",
    )


class OrderBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = BatchResultSerializer(many=True)


class EventWriteSerializer(CustomerKeysSerializer):
    type = serializers.SlugField(
        max_length=64, help_text="What happened, your slug: `coupon_used`, `member_joined`…"
    )
    properties = serializers.JSONField(
        required=False,
        default=dict,
        help_text="Details, a JSON object of at most 8 KB, shown on the customer's timeline.",
    )
    occurred_at = _moment()
    event_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=128,
        default="",
        help_text="Your id of the event: sent again, the event is updated, not repeated.",
    )

    def validate_properties(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("A JSON object."))
        if len(json.dumps(value, ensure_ascii=False).encode()) > PROPERTIES_MAX_BYTES:
            raise serializers.ValidationError(_("At most 8 KB."))
        return value


class EventBatchWriteSerializer(serializers.Serializer):
    events = EventWriteSerializer(many=True, max_length=MAX_BATCH)  # type: ignore[call-arg]


class EventBatchSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=MAX_BATCH
    )


class EventSerializer(_KeysOutMixin):
    class Meta:
        model = CustomEvent
        fields = [
            "id",
            "type",
            "properties",
            "occurred_at",
            "event_id",
            *KEY_OUT_FIELDS,
            "created_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: CustomEvent) -> dict[str, Any]:
        shaped: dict[str, Any] = super().to_representation(instance)
        if not sees_phones(self.context):
            shaped["properties"] = mask_phones_in(shaped["properties"])
        return shaped


class EventBatchResultSerializer(OrderBatchResultSerializer):
    pass


# --- list parameters -----------------------------------------------------------------------


class OrderListParams(serializers.Serializer):
    customer = serializers.CharField(
        required=False, max_length=64, help_text="Orders of the customer with this external_userid."
    )
    matched = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="`true`: matched to a customer; `false`: waiting.",
    )
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    source = serializers.CharField(required=False, max_length=64)  # type: ignore[assignment]
    order_id = serializers.CharField(required=False, max_length=128)
    paid_from = serializers.DateTimeField(
        required=False, help_text="Paid at or after (ISO 8601 date or time)."
    )
    paid_to = serializers.DateTimeField(required=False, help_text="Paid at or before.")


class EventListParams(serializers.Serializer):
    customer = serializers.CharField(
        required=False, max_length=64, help_text="Events of the customer with this external_userid."
    )
    matched = serializers.BooleanField(required=False, allow_null=True, default=None)
    type = serializers.SlugField(required=False, max_length=64)
    occurred_from = serializers.DateTimeField(required=False)
    occurred_to = serializers.DateTimeField(required=False)


# --- imports -------------------------------------------------------------------------------


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=f"The CSV (UTF-8 or GBK, at most {MAX_CSV_BYTES // (1024 * 1024)} MB, "
        "100,000 rows); columns as in the template."
    )
    source = serializers.CharField(  # type: ignore[assignment]  # the field, not Field.source
        required=False,
        allow_blank=True,
        max_length=64,
        default="",
        help_text="The source of rows whose `source` cell is empty.",
    )
    require_match = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Refuse rows whose customer is not found (default: keep them, matched later).",
    )


class ImportCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    processed = serializers.IntegerField()
    pending = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    invalid = serializers.IntegerField()


class ImportSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=_choices_help(OrderImport.Status))
    counts = serializers.SerializerMethodField(help_text="Rows per result.")

    class Meta:
        model = OrderImport
        fields = [
            "id",
            "file_name",
            "source",
            "require_match",
            "status",
            "error",
            "counts",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ImportCountsSerializer)
    def get_counts(self, job: OrderImport) -> dict[str, int]:
        counts: dict[int, dict[str, int]] = self.context.get("counts", {})
        return counts.get(job.pk, {})


class ImportRowSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=_choices_help(OrderImportRow.Status))
    reason = serializers.SerializerMethodField(
        help_text="Why it was not imported, in the request's language."
    )

    class Meta:
        model = OrderImportRow
        fields = ["line", "order_id", "status", "matched_by", "reason"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_reason(self, row: OrderImportRow) -> str:
        from orders.imports import row_reason_text

        return row_reason_text(row.error) if row.error else ""


class ImportRowListParams(serializers.Serializer):
    status = serializers.MultipleChoiceField(
        choices=OrderImportRow.Status.choices,
        required=False,
        help_text="Only rows with these results; repeat for several.",
    )
