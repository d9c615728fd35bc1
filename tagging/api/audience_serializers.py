"""Shapes of the segments, auto-tag rules and bulk tagging jobs API.

Input serializers check shapes only (types, lengths); what makes a definition, a rule or a
job valid is the services' (tagging.segments, tagging.rules, tagging.bulk), whose messages
come back as 400s.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.api.filters import MAX_ID
from contacts.api.serializers import sees_phones
from contacts.phones import phone_normalise
from contacts.privacy import mask_phone
from tagging.bulk import MAX_TAGS
from tagging.models import AutoTagRule, BulkTagJob, BulkTagRow, Segment

TAG_ID_MAX = 64
IDS_MAX = 1000

DEFINITION_HELP = (
    "A group {op: and|or, rules: [...]} whose rules are groups or conditions: "
    '{"field": "tags", "op": "any"|"all"|"none", "values": [tag ids]}, '
    '{"field": "channel"|"guide"|"store"|"gender"|"customer_type", "op": "in"|"not_in", '
    '"values": [integer ids or values]}, {"field": "status", "op": "in"|"not_in", '
    '"values": ["active", ...]}, {"field": "added", "op": "between", "from": "YYYY-MM-DD", '
    '"to": "YYYY-MM-DD"}. Groups nest at most 4 deep, at most 50 conditions.'
)


def _ids(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=IDS_MAX,
        help_text=help_text,
    )


def _tag_ids(help_text: str, *, required: bool = True) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=TAG_ID_MAX),
        required=required,
        allow_empty=False,
        max_length=IDS_MAX,
        help_text=help_text,
    )


# --- segments ------------------------------------------------------------------------------


class SegmentSerializer(serializers.ModelSerializer):
    definition = serializers.JSONField(read_only=True, help_text=DEFINITION_HELP)
    last_count = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Customers in the segment when last counted (on save or on refresh).",
    )

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "definition",
            "last_count",
            "last_counted_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SegmentWriteSerializer(serializers.Serializer):
    """The body of POST /segments/ (all required but `description`) and PATCH (any)."""

    name = serializers.CharField(max_length=100, help_text="Unique within the brand.")
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    definition = serializers.JSONField(help_text=DEFINITION_HELP)


class SegmentPreviewSerializer(serializers.Serializer):
    definition = serializers.JSONField(help_text=DEFINITION_HELP)


class SegmentCountSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Customers matching the definition now.")


# --- auto-tag rules --------------------------------------------------------------------------


class TagRuleSerializer(serializers.ModelSerializer):
    tag_ids = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="WeCom tag ids to apply."
    )
    channel_ids: "serializers.PrimaryKeyRelatedField[Any]" = serializers.PrimaryKeyRelatedField(
        source="channels", many=True, read_only=True, help_text="Our channel ids."
    )
    guide_ids: "serializers.PrimaryKeyRelatedField[Any]" = serializers.PrimaryKeyRelatedField(
        source="guides", many=True, read_only=True, help_text="Our guide ids."
    )
    store_ids: "serializers.PrimaryKeyRelatedField[Any]" = serializers.PrimaryKeyRelatedField(
        source="stores", many=True, read_only=True, help_text="Our store ids."
    )
    add_ways = serializers.ListField(
        child=serializers.IntegerField(), read_only=True, help_text="WeCom add_way values."
    )
    weekdays = serializers.ListField(
        child=serializers.IntegerField(), read_only=True, help_text="ISO weekdays, 1 = Monday."
    )

    class Meta:
        model = AutoTagRule
        fields = [
            "id",
            "name",
            "is_active",
            "tag_ids",
            "channel_ids",
            "add_ways",
            "guide_ids",
            "store_ids",
            "valid_from",
            "valid_until",
            "weekdays",
            "hour_from",
            "hour_until",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TagRuleWriteSerializer(serializers.Serializer):
    """The body of POST /tag-rules/ (name and tag_ids required) and PATCH (any field; a
    field sent replaces the rule's value, a field left out keeps it)."""

    name = serializers.CharField(max_length=100)
    is_active = serializers.BooleanField(required=False, default=True)
    tag_ids = _tag_ids("WeCom tag ids to apply (from the catalogue).")
    channel_ids = _ids("Only customers from these channels (our ids); empty: any.")
    add_ways = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=2**31 - 1),
        required=False,
        max_length=50,
        help_text="Only these WeCom add_way values; empty: any.",
    )
    guide_ids = _ids("Only customers added by these guides (our ids); empty: any.")
    store_ids = _ids("Only customers added by guides of these stores (our ids); empty: any.")
    valid_from = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Campaign start (ISO 8601; Asia/Shanghai)."
    )
    valid_until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Campaign end, exclusive."
    )
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7),
        required=False,
        max_length=7,
        help_text="ISO weekdays, 1 = Monday; empty: every day.",
    )
    hour_from = serializers.TimeField(
        required=False, allow_null=True, help_text="Daily from HH:MM (Asia/Shanghai)."
    )
    hour_until = serializers.TimeField(
        required=False,
        allow_null=True,
        help_text="Daily until HH:MM, exclusive; before hour_from runs over midnight.",
    )


# --- bulk tagging jobs -----------------------------------------------------------------------


class BulkTagJobProgressSerializer(serializers.Serializer):
    pending = serializers.IntegerField(help_text="Rows not worked yet.")
    done = serializers.IntegerField(help_text="Rows changed in WeCom and here.")
    unchanged = serializers.IntegerField(help_text="Rows that already were as asked.")
    failed = serializers.IntegerField(help_text="Rows WeCom refused (see their errcode).")
    invalid = serializers.IntegerField(help_text="CSV lines that could not be used.")
    total = serializers.IntegerField()


class BulkTagJobSerializer(serializers.ModelSerializer):
    """A job with its progress (the view puts the counts in the context)."""

    tag_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    segment: "serializers.PrimaryKeyRelatedField[Any]" = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The segment's id (source segment)."
    )
    rule: "serializers.PrimaryKeyRelatedField[Any]" = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The rule's id (source rule)."
    )
    progress = serializers.SerializerMethodField()

    class Meta:
        model = BulkTagJob
        fields = [
            "id",
            "action",
            "tag_ids",
            "source",
            "segment",
            "rule",
            "file_name",
            "status",
            "total",
            "progress",
            "created_by",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "status": {"help_text": "running, finished or cancelled."},
            "total": {"help_text": "Rows planned (relations, plus invalid CSV lines)."},
        }

    @extend_schema_field(BulkTagJobProgressSerializer)
    def get_progress(self, job: BulkTagJob) -> dict[str, int]:
        progress: dict[int, dict[str, int]] = self.context.get("progress") or {}
        return progress.get(job.pk) or {"total": 0}


class BulkTagJobCreateSerializer(serializers.Serializer):
    """JSON: `segment` with `action` and `tag_ids`, or `rule` alone (its tags, added).
    multipart/form-data: `file` (the CSV) with `action` and `tag_ids` (repeat the field)."""

    segment = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Tag this segment's customers."
    )
    rule = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="Apply this rule to the existing customers it matches.",
    )
    file = serializers.FileField(
        required=False,
        help_text="A CSV (UTF-8 or GBK) of external_userids or phone numbers, one per line.",
    )
    action = serializers.ChoiceField(
        choices=BulkTagJob.Action.choices,
        required=False,
        help_text="add or remove (segment and file jobs).",
    )
    tag_ids = _tag_ids(
        f"WeCom tag ids, at most {MAX_TAGS} (segment and file jobs).", required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        sources = [name for name in ("segment", "rule", "file") if attrs.get(name) is not None]
        if len(sources) != 1:
            raise serializers.ValidationError(
                _("Give exactly one of segment, rule or file."), code="source"
            )
        if sources[0] == "rule":
            if attrs.get("action") or attrs.get("tag_ids"):
                raise serializers.ValidationError(
                    _("A rule job adds the rule's own tags: send no action or tag_ids.")
                )
            return attrs
        missing = {
            name: [_("This field is required.")]
            for name in ("action", "tag_ids")
            if not attrs.get(name)
        }
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class BulkTagRowSerializer(serializers.ModelSerializer):
    relation: "serializers.PrimaryKeyRelatedField[Any]" = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The guide × customer relation (our id)."
    )
    external_userid = serializers.SerializerMethodField()
    guide_userid = serializers.SerializerMethodField()

    class Meta:
        model = BulkTagRow
        fields = [
            "id",
            "line",
            "value",
            "relation",
            "external_userid",
            "guide_userid",
            "status",
            "errcode",
            "error",
            "done_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "line": {"help_text": "The CSV line (0 for segment and rule jobs)."},
            "value": {
                "help_text": "The CSV cell as given; a phone number masked (138****5678) "
                "unless the key may read phone numbers."
            },
            "status": {"help_text": "pending, done, unchanged, failed or invalid."},
            "errcode": {"help_text": "WeCom's errcode when WeCom refused the row."},
            "error": {"help_text": "Why the row failed or is invalid."},
        }

    def to_representation(self, instance: BulkTagRow) -> dict[str, Any]:
        shaped: dict[str, Any] = super().to_representation(instance)
        value = shaped.get("value") or ""
        if phone_normalise(value) and not sees_phones(self.context):
            shaped["value"] = mask_phone(value)
        return shaped

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_external_userid(self, row: BulkTagRow) -> str | None:
        return row.relation.customer.external_userid if row.relation else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_guide_userid(self, row: BulkTagRow) -> str | None:
        return row.relation.guide.userid if row.relation else None


class BulkTagRowListParams(serializers.Serializer):
    status = serializers.MultipleChoiceField(
        choices=BulkTagRow.Status.choices,
        required=False,
        help_text="Only rows with these results; repeat for several (`?status=failed"
        "&status=invalid`).",
    )
