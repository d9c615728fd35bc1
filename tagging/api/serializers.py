"""Shapes of the tags API: the catalogue (output), the edits (input), a relation's tags.

Tags and groups are named by WeCom's ids (`tag_id`, `group_id`), in paths and bodies alike.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scrm.api.schema import Envelope
from tagging.models import NAME_MAX, Tag, TagGroup

TAGS_PER_REQUEST = 100
TAG_ID_MAX = 64


class TagSerializer(serializers.ModelSerializer):
    group_id = serializers.CharField(source="group.group_id", read_only=True)
    customer_count = serializers.SerializerMethodField()

    class Meta:
        model = Tag
        fields = ["tag_id", "name", "order", "group_id", "created_at", "customer_count"]
        read_only_fields = fields

    @extend_schema_field(
        serializers.IntegerField(
            allow_null=True,
            help_text="Customers carrying the tag on any relation (refreshed every minute); "
            "null unless the list was asked for with `?counts=1`.",
        )
    )
    def get_customer_count(self, tag: Tag) -> int | None:
        counts: dict[str, int] | None = self.context.get("customer_counts")
        if counts is None:
            return None
        return counts.get(tag.tag_id, 0)


class GroupTagSerializer(TagSerializer):
    """A tag inside its group (the group id is the group's)."""

    class Meta(TagSerializer.Meta):
        fields = ["tag_id", "name", "order", "created_at", "customer_count"]
        read_only_fields = fields


class TagGroupSerializer(serializers.ModelSerializer):
    tags = GroupTagSerializer(many=True, read_only=True, help_text="WeCom's order.")

    class Meta:
        model = TagGroup
        fields = ["group_id", "name", "order", "created_at", "tags"]
        read_only_fields = fields


class TagGroupListSerializer(Envelope):
    results = TagGroupSerializer(many=True, help_text="Every group, in WeCom's order.")


def _tag_names(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=NAME_MAX),
        min_length=1,
        max_length=TAGS_PER_REQUEST,
        help_text=f"Tag names, at most {NAME_MAX} characters each, at most "
        f"{TAGS_PER_REQUEST} per request.",
        **kwargs,
    )


class TagGroupCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=NAME_MAX, help_text=f"The new group's name (at most {NAME_MAX} characters)."
    )
    tags = _tag_names()


class TagsAddSerializer(serializers.Serializer):
    tags = _tag_names()


class RenameSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=NAME_MAX, help_text=f"The new name (at most {NAME_MAX} characters)."
    )


class TagListParams(serializers.Serializer):
    counts = serializers.BooleanField(
        required=False,
        default=False,
        help_text="`1` to include each tag's `customer_count` (refreshed every minute).",
    )


class RelationTagsChangeSerializer(serializers.Serializer):
    add = serializers.ListField(
        child=serializers.CharField(max_length=TAG_ID_MAX),
        required=False,
        default=list,
        max_length=TAGS_PER_REQUEST,
        help_text="WeCom tag ids to mark on the relation (they must be in the catalogue).",
    )
    remove = serializers.ListField(
        child=serializers.CharField(max_length=TAG_ID_MAX),
        required=False,
        default=list,
        max_length=TAGS_PER_REQUEST,
        help_text="WeCom tag ids to take off the relation.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("add") and not attrs.get("remove"):
            raise serializers.ValidationError(_("Send at least one tag id in add or remove."))
        return attrs


class RelationTagSerializer(serializers.ModelSerializer):
    group_id = serializers.CharField(source="group.group_id", read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)

    class Meta:
        model = Tag
        fields = ["tag_id", "name", "group_id", "group_name"]
        read_only_fields = fields


class RelationTagsSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The relation (our id).")
    wecom_tag_ids = serializers.ListField(
        child=serializers.CharField(), help_text="Every tag id on the relation, sorted."
    )
    tags = RelationTagSerializer(
        many=True, help_text="The tags of `wecom_tag_ids` that the catalogue knows."
    )
