"""Query and path parameters of the contacts API, validated into selector arguments.

Every parameter is checked here, so bad input answers 400 naming the parameter (never a 500
from the database): ids are bounded to PostgreSQL's bigint, dates are YYYY-MM-DD, statuses
come from the model's choices.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from contacts.models import Customer, GroupChat, Guide, Relation
from contacts.selectors import PHONE_RE, CustomerFilters, guide_id_for_userid

MAX_ID = 2**63 - 1
MAX_TAG_FILTERS = 100
# Matches no row: ids start at 1.
NO_ROW = 0
GIVE_ONCE = _("Given more than once: give this parameter once.")


def parse_id(value: Any, *, name: str = "id") -> int:
    """A path or query id, or 400 naming `name`."""
    text = str(value).strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID:
        return int(text)
    raise ValidationError({name: [_("Enter a positive whole number (an id).")]})


def id_param(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, **kwargs)


def _status_help(choices: Any) -> str:
    return ", ".join(str(value) for value in choices.values)


class CustomerFilterParams(serializers.Serializer):
    """The customers list's filters (the console's, for integrators)."""

    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Search: customer name, a guide's remark, a remark phone number (full "
        "number, keys that may read phone numbers only) or an exact external_userid.",
    )
    guide = id_param(help_text="Customers of this guide (our guide id).")
    guide_userid = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="Customers of the guide with this WeCom userid.",
    )
    store = id_param(help_text="Customers of this store's guides (our store id).")
    status = serializers.ChoiceField(
        choices=Relation.Status.choices,
        required=False,
        help_text="Relation status: " + _status_help(Relation.Status),
    )
    added_from = serializers.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        help_text="Added on or after this day (YYYY-MM-DD, Asia/Shanghai).",
    )
    added_to = serializers.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        help_text="Added on or before this day (YYYY-MM-DD, Asia/Shanghai).",
    )
    add_way = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="WeCom add_way: "
        + ", ".join(f"{value} {label}" for value, label in Relation.AddWay.choices),
    )
    state = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The channel `state` of the QR code the customer scanned.",
    )
    type = serializers.ChoiceField(
        choices=Customer.Type.choices,
        required=False,
        help_text="1 WeChat user, 2 WeCom user.",
    )
    tag = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=MAX_TAG_FILTERS,
        help_text="Customers carrying any of these WeCom tag ids on some relation; repeat "
        "the parameter for several (`?tag=et1&tag=et2`).",
    )
    segment = id_param(help_text="Customers of this saved segment (its id).")
    channel = id_param(
        help_text="Customers a channel's live code brought (our channel id, as in "
        "/api/v1/channels/)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        added_from, added_to = attrs.get("added_from"), attrs.get("added_to")
        if added_from and added_to and added_from > added_to:
            raise ValidationError({"added_to": [_("added_to is before added_from.")]})
        return attrs

    def validate_segment(self, value: int | None) -> int | None:
        from tagging.models import Segment

        if value is not None and not Segment.objects.filter(pk=value).exists():
            raise ValidationError(_("No such segment."))
        return value


class RelationFilterParams(CustomerFilterParams):
    customer = id_param(help_text="Relations of this customer (our customer id).")
    # The relations list answers per relation: customer-level tag and segment filters
    # would read ambiguously there.
    tag = None  # type: ignore[assignment]
    segment = None  # type: ignore[assignment]


class GuideFilterParams(serializers.Serializer):
    store = id_param(help_text="Guides of this store (our store id).")
    status = serializers.ChoiceField(
        choices=Guide.Status.choices,
        required=False,
        help_text="Guide status: " + _status_help(Guide.Status),
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Name contains, or exact WeCom userid.",
    )
    days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=366,
        default=7,
        help_text="Window of recent_adds and recent_deletes, in days (default 7).",
    )


class GroupChatFilterParams(serializers.Serializer):
    owner = id_param(help_text="Chats owned by this guide (our guide id).")
    status = serializers.ChoiceField(
        choices=GroupChat.Status.choices,
        required=False,
        help_text="Chat status: " + _status_help(GroupChat.Status),
    )
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Name contains."
    )


class SyncRunListParams(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=100,
        default=20,
        help_text="How many of the latest runs (default 20, at most 100).",
    )


def params_of(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The validated query parameters, or 400 with a message per bad parameter.

    A parameter that takes one value given more than once (`?store=1&store=2`) is a 400, not
    silently its last value; list parameters (`?tag=a&tag=b`) take them all."""
    params = serializer_class(data=data)
    if hasattr(data, "getlist"):
        repeated = {
            name: [GIVE_ONCE]
            for name, field in params.fields.items()
            if len(data.getlist(name)) > 1
            and not isinstance(field, serializers.ListField | serializers.MultipleChoiceField)
        }
        if repeated:
            raise ValidationError(repeated)
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


def customer_filters(params: dict[str, Any], *, sees_phones: bool) -> CustomerFilters:
    """Selector filters from validated params.

    Without the phone permission, a key may not look customers up by phone number: the
    answer would tell it whose number it is.
    """
    q = (params.get("q") or "").strip()
    if q and not sees_phones and PHONE_RE.match(q):
        raise ValidationError(
            {"q": [_("Searching by phone number needs a key that may read phone numbers.")]}
        )
    guide_id = params.get("guide")
    guide_userid = (params.get("guide_userid") or "").strip()
    if guide_userid:
        by_userid = guide_id_for_userid(guide_userid)
        if by_userid is None or (guide_id is not None and guide_id != by_userid):
            guide_id = NO_ROW
        else:
            guide_id = by_userid
    return CustomerFilters(
        q=q,
        guide_id=guide_id,
        store_id=params.get("store"),
        status=params.get("status") or "",
        added_from=params.get("added_from"),
        added_to=params.get("added_to"),
        add_way=params.get("add_way"),
        state=(params.get("state") or "").strip(),
        customer_type=params.get("type"),
        tag_ids=list(params.get("tag") or []),
        segment_id=params.get("segment"),
        channel_id=params.get("channel"),
    )
