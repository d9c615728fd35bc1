"""Shapes of the lifecycle API."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from lifecycle.models import DISPLAY_ORDER, CustomerStage, Stage
from scrm.api.schema import Envelope

STAGE_HELP = (
    "new (新客), engaged (互动), first_order (首单), repeat (复购), dormant (沉睡), lost (流失); "
    "see docs/lifecycle.md for the rules."
)


class StageCountParams(serializers.Serializer):
    """Query parameters of /lifecycle/stage-counts/."""

    def get_fields(self) -> dict[str, Any]:
        helps = {
            "from": "First day, YYYY-MM-DD, Beijing time (default: 29 days before `to`).",
            "to": "Last day, included (default: today). At most 366 days in all.",
        }
        # `from` is a Python keyword: the fields are added here, not as class attributes.
        return {
            name: serializers.DateField(
                required=False, input_formats=["%Y-%m-%d"], help_text=helps[name]
            )
            for name in ("from", "to")
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and start > end:
            raise serializers.ValidationError({"to": [_("to is before from.")]})
        return attrs


class StageDaySerializer(serializers.Serializer):
    day = serializers.DateField(help_text="The day, Beijing time.")

    def get_fields(self) -> dict[str, Any]:
        return {
            **super().get_fields(),
            **{
                stage.value: serializers.IntegerField(
                    allow_null=True,
                    help_text=f"Customers in the stage {stage.value} at the day's last count "
                    "(null: not counted that day).",
                )
                for stage in DISPLAY_ORDER
            },
        }


class StageCountsSerializer(Envelope):
    start = serializers.DateField()
    end = serializers.DateField()
    results = StageDaySerializer(many=True, help_text="One row per day, oldest first.")


class CustomerStageParams(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices, help_text=STAGE_HELP)


class CustomerStageSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id", help_text="Our customer id.")
    external_userid = serializers.CharField(source="customer.external_userid")
    stage = serializers.ChoiceField(choices=Stage.choices, help_text=STAGE_HELP)
    since = serializers.DateTimeField(help_text="When the customer entered the stage.")

    class Meta:
        model = CustomerStage
        fields = ["customer", "external_userid", "stage", "since"]
        read_only_fields = fields
