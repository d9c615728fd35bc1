"""Shapes of the channels API: groups, channels with their live code, stats rows, welcome
messages. Input serializers check shapes (and look ids up); the rules are the services'."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from channels_qr.models import (
    WELCOME_ATTACHMENTS_MAX,
    Channel,
    ChannelGroup,
    ChannelGuide,
    ChannelHours,
    LiveCode,
    WelcomeMessage,
)
from channels_qr.welcome_messages import WelcomeInputError, attachments_check
from contacts.api.filters import MAX_ID, id_param
from contacts.selectors import guides_find

ATTACHMENTS_HELP = (
    f"Up to {WELCOME_ATTACHMENTS_MAX}, sent after the text in this order: "
    '`{"msgtype": "image"|"file"|"video", "media": <media library id>}`, '
    '`{"msgtype": "link", "title", "url", "picurl"?, "desc"?}`, '
    '`{"msgtype": "miniprogram", "title", "appid", "page", "pic_media": <media library id>}`.'
)
WELCOME_TEXT_HELP = (
    "Placeholders: {客户昵称} / {nickname} (the customer's WeChat name; left out with its "
    "comma when not known yet), {导购姓名} / {guide_name} (the guide's name). At most 4,000 bytes."
)


def _id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class AttachmentsField(serializers.JSONField):
    """A welcome's attachments, checked for shape and known media ids."""

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        value = super().to_internal_value(data)
        try:
            return attachments_check(value)
        except WelcomeInputError as exc:
            raise serializers.ValidationError(str(exc)) from None


# --- groups -------------------------------------------------------------------------------


class ChannelGroupSerializer(serializers.ModelSerializer):
    channel_count = serializers.IntegerField(
        read_only=True, help_text="Channels in the group (deleted ones left out)."
    )

    class Meta:
        model = ChannelGroup
        fields = ["id", "name", "order", "channel_count", "created_at"]
        read_only_fields = fields


class ChannelGroupWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="Unique within the brand.")
    order = serializers.IntegerField(
        required=False, default=0, min_value=-(2**31), max_value=2**31 - 1
    )


# --- channels -----------------------------------------------------------------------------


class ChannelGuideSerializer(serializers.ModelSerializer):
    guide = serializers.IntegerField(source="guide_id", read_only=True, help_text="Our guide id.")
    userid = serializers.CharField(source="guide.userid", read_only=True)
    name = serializers.CharField(source="guide.name", read_only=True)

    class Meta:
        model = ChannelGuide
        fields = ["guide", "userid", "name", "daily_cap", "weight"]
        read_only_fields = fields


class ChannelHoursSerializer(serializers.ModelSerializer):
    weekday = serializers.IntegerField(
        min_value=1, max_value=7, help_text="ISO weekday, 1 = Monday."
    )
    start = serializers.TimeField(format="%H:%M", help_text="HH:MM, Beijing time.")
    end = serializers.TimeField(format="%H:%M", help_text="HH:MM (exclusive), Beijing time.")

    class Meta:
        model = ChannelHours
        fields = ["weekday", "start", "end"]


class LiveCodeSerializer(serializers.ModelSerializer):
    members = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Userids on the WeCom contact way as last pushed (the strategy's list now).",
    )

    class Meta:
        model = LiveCode
        fields = [
            "state",
            "config_id",
            "qr_code",
            "skip_verify",
            "members",
            "members_synced_at",
            "created_at",
        ]
        read_only_fields = fields


class ChannelSerializer(serializers.ModelSerializer):
    group = serializers.IntegerField(
        source="group_id", read_only=True, allow_null=True, help_text="Our channel group id."
    )
    store = serializers.IntegerField(source="store_id", read_only=True, allow_null=True)
    backup_guide = serializers.IntegerField(
        source="backup_guide_id", read_only=True, allow_null=True
    )
    tag_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    welcome_attachments = serializers.JSONField(read_only=True, help_text=ATTACHMENTS_HELP)
    guides = ChannelGuideSerializer(many=True, read_only=True)
    hours = ChannelHoursSerializer(many=True, read_only=True)
    live_code = serializers.SerializerMethodField()
    adds_today = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "group",
            "is_active",
            "starts_at",
            "ends_at",
            "strategy",
            "guides",
            "store",
            "backup_guide",
            "hours",
            "tag_ids",
            "welcome_text",
            "welcome_attachments",
            "skip_verify",
            "live_code",
            "adds_today",
            "created_at",
            "updated_at",
            "deleted_at",
        ]
        read_only_fields = fields

    @extend_schema_field(LiveCodeSerializer(allow_null=True))
    def get_live_code(self, channel: Channel) -> dict[str, Any] | None:
        codes = list(channel.live_codes.all())
        return LiveCodeSerializer(codes[0]).data if codes else None

    @extend_schema_field(
        serializers.IntegerField(help_text="Customers the channel brought since local midnight.")
    )
    def get_adds_today(self, channel: Channel) -> int:
        return int(getattr(channel, "adds_today", 0) or 0)


class ChannelListParams(serializers.Serializer):
    group = id_param(help_text="Channels of this group (our channel group id).")
    deleted = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: the deleted channels instead (their customers and stats stay).",
    )


class GuideEntrySerializer(serializers.Serializer):
    guide = _id_field(required=False, help_text="Our guide id (or give `userid`).")
    userid = serializers.CharField(
        required=False, max_length=64, help_text="The guide's WeCom userid (or give `guide`)."
    )
    daily_cap = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000, default=None
    )
    weight = serializers.IntegerField(required=False, min_value=1, max_value=100, default=1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("guide" in attrs) == ("userid" in attrs):
            raise serializers.ValidationError(_("Give either guide (an id) or userid."))
        return attrs


class ChannelWriteSerializer(serializers.Serializer):
    """The body of POST /channels/ (name and guides or store required) and PATCH (any field;
    a field sent replaces the value, lists included)."""

    name = serializers.CharField(max_length=100)
    group = _id_field(required=False, allow_null=True, help_text="Our channel group id.")
    is_active = serializers.BooleanField(required=False, default=True)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    strategy = serializers.ChoiceField(
        choices=Channel.Strategy.choices, required=False, default=Channel.Strategy.SEVERAL
    )
    guides = GuideEntrySerializer(many=True, required=False, default=list)
    store = _id_field(
        required=False, allow_null=True, help_text="For strategy `store`: our store id."
    )
    backup_guide = _id_field(
        required=False,
        allow_null=True,
        help_text="Takes the customers when every guide is capped, outside working hours, and "
        "while the channel is inactive or outside its dates (our guide id).",
    )
    hours = ChannelHoursSerializer(
        many=True,
        required=False,
        default=list,
        help_text="Working hours; none means always. Outside them: the backup guide.",
    )
    tag_ids = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=100,
        help_text="WeCom tag ids marked on every customer the channel brings.",
    )
    welcome_text = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4000, help_text=WELCOME_TEXT_HELP
    )
    welcome_attachments = AttachmentsField(required=False, help_text=ATTACHMENTS_HELP)
    skip_verify = serializers.BooleanField(
        required=False, default=True, help_text="Add without the guide confirming."
    )

    def validate_guides(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Userids looked up to guide ids."""
        userids = [e["userid"] for e in entries if "userid" in e]
        if not userids:
            return entries
        found, _missing = guides_find(refs=userids)
        by_userid = {guide.userid: guide.pk for guide in found}
        missing = [u for u in userids if u not in by_userid]
        if missing:
            raise serializers.ValidationError(
                _("No guide with the userid: %(userids)s.") % {"userids": ", ".join(missing)}
            )
        return [
            {**e, "guide": by_userid[e.pop("userid")]} if "userid" in e else e
            for e in [dict(e) for e in entries]
        ]


def _from_to(fields: dict[str, Any], make: Any) -> dict[str, Any]:
    """Fields named `from` and `to` (a Python keyword cannot be a class attribute)."""
    return {"from": make("from"), "to": make("to"), **fields}


class StatsParamsSerializer(serializers.Serializer):
    """Query parameters of /channels/{id}/stats/."""

    by = serializers.ChoiceField(
        choices=["day", "guide"],
        required=False,
        default="day",
        help_text="`day`: one row per day (every day, zeros too); `guide`: one row per guide "
        "per day (days with something only).",
    )

    def get_fields(self) -> dict[str, Any]:
        helps = {
            "from": "First day, YYYY-MM-DD, Beijing time (default: 29 days before `to`).",
            "to": "Last day, included (default: today). At most 366 days in all.",
        }
        return _from_to(
            super().get_fields(),
            lambda name: serializers.DateField(
                required=False, input_formats=["%Y-%m-%d"], help_text=helps[name]
            ),
        )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and start > end:
            raise serializers.ValidationError({"to": [_("to is before from.")]})
        return attrs


class StatsRowSerializer(serializers.Serializer):
    day = serializers.DateField(help_text="The day, Beijing time.")
    guide = serializers.IntegerField(
        source="guide_id",
        allow_null=True,
        required=False,
        help_text="`by=guide`: our guide id (null for a userid the contact book does not know).",
    )
    guide_userid = serializers.CharField(required=False, help_text="`by=guide` only.")
    guide_name = serializers.CharField(required=False, help_text="`by=guide` only.")
    adds = serializers.IntegerField(help_text="Customers the channel brought that day.")
    deletions = serializers.IntegerField(
        help_text="The channel's customers who deleted their guide that day."
    )
    net = serializers.IntegerField(help_text="adds - deletions.")
    retained_7d = serializers.IntegerField(
        allow_null=True,
        help_text="Of the day's adds, those still friends now; null until the day is 7 days old.",
    )
    welcome_sent = serializers.IntegerField()
    welcome_due = serializers.IntegerField(
        help_text="Adds that had a welcome to send (every outcome but `nothing`)."
    )
    welcome_rate = serializers.FloatField(
        allow_null=True, help_text="welcome_sent / welcome_due; null when nothing was due."
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not self.context.get("by_guide"):
            for key in ("guide", "guide_userid", "guide_name"):
                data.pop(key, None)
        return data


class StatsTotalSerializer(StatsRowSerializer):
    day = None  # type: ignore[assignment]
    guide = None  # type: ignore[assignment]
    guide_userid = None  # type: ignore[assignment]
    guide_name = None  # type: ignore[assignment]
    retained_7d = serializers.IntegerField(
        source="retained",
        help_text="Of the adds at least 7 days old, those still friends now.",
    )
    retention_base = serializers.IntegerField(help_text="The adds at least 7 days old.")


class ChannelStatsSerializer(serializers.Serializer):
    channel = serializers.IntegerField(help_text="Our channel id.")
    by = serializers.ChoiceField(choices=["day", "guide"])
    results = StatsRowSerializer(many=True)
    total = StatsTotalSerializer(help_text="The whole range added up.")

    def get_fields(self) -> dict[str, Any]:
        return _from_to(
            super().get_fields(),
            lambda name: serializers.DateField(source="start" if name == "from" else "end"),
        )


# --- welcome messages ---------------------------------------------------------------------


class WelcomeMessageSerializer(serializers.ModelSerializer):
    guide = serializers.IntegerField(source="guide_id", read_only=True, allow_null=True)
    guide_userid = serializers.SerializerMethodField()
    store = serializers.IntegerField(source="store_id", read_only=True, allow_null=True)
    attachments = serializers.JSONField(read_only=True, help_text=ATTACHMENTS_HELP)

    class Meta:
        model = WelcomeMessage
        fields = [
            "id",
            "scope",
            "guide",
            "guide_userid",
            "store",
            "text",
            "attachments",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_guide_userid(self, message: WelcomeMessage) -> str | None:
        return message.guide.userid if message.guide is not None else None


class WelcomeMessageWriteSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=WelcomeMessage.Scope.choices,
        help_text="default (one per brand), guide (one per guide), store (one per store).",
    )
    guide = _id_field(required=False, allow_null=True, help_text="For scope guide: our guide id.")
    store = _id_field(required=False, allow_null=True, help_text="For scope store: our store id.")
    text = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4000, help_text=WELCOME_TEXT_HELP
    )
    attachments = AttachmentsField(required=False, help_text=ATTACHMENTS_HELP)
