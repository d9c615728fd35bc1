"""Shapes of the privacy API: the export document (described for the schema; built by
privacy.selectors.customer_export) and the erasure's request and answer."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


def _items(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.DictField(), help_text=help_text)


class CustomerExportSerializer(serializers.Serializer):
    """The document `GET /customers/{id}/export/` answers (docs/privacy.md lists every field)."""

    format = serializers.CharField(help_text="`scrm.customer-export/1`.")
    exported_at = serializers.DateTimeField()
    phones_masked = serializers.BooleanField(
        help_text="True when the key may not read phone numbers: they are masked (138****5678)."
    )
    customer = serializers.DictField(help_text="The customer row (`erased`: true once erased).")
    relations = _items("Each guide relation: remark, phones, tags, channel, status, dates.")
    lifecycle_stage = serializers.DictField(allow_null=True)
    timeline = _items("Every timeline entry, oldest first.")
    notes = _items("Sidebar notes.")
    follow_ups = _items("Sidebar follow-ups.")
    orders = _items("Orders matched to the customer, with the keys they came with.")
    custom_events = _items("Custom events matched to the customer.")
    group_sends = _items("Group sends the customer was in, with the delivery status.")
    handovers = _items("Handover items of the customer.")
    group_chats = _items("Group chat memberships.")
    welcome_messages = _items("Welcome messages sent when the customer added a guide.")
    webhook_events = _items("Webhook events about the customer.")
    wecom_callbacks = _items("WeCom callbacks naming the customer (parsed payload).")


class EraseRequestSerializer(serializers.Serializer):
    external_userid = serializers.CharField(
        max_length=64,
        help_text="The customer's external_userid, repeated as a confirmation: an erasure "
        "whose id and external_userid do not belong together is refused.",
    )

    def __init__(self, *args: Any, expected: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected

    def validate_external_userid(self, value: str) -> str:
        if value != self.expected:
            raise serializers.ValidationError(_("This is not the customer's external_userid."))
        return value


class ErasedSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The customer's id (it stays).")
    external_userid = serializers.CharField(help_text="The opaque id the customer now has.")
    erased = serializers.BooleanField()
    rows = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows changed or deleted, per table."
    )
