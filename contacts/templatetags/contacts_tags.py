"""Template helpers of the contact pages: phone masking, timeline details, WeCom labels."""

import re
from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from contacts.privacy import can_see_phones, mask_phone

register = template.Library()

# WeCom's groupchat member join_scene.
JOIN_SCENES = {
    1: _("Invited by a member"),
    2: _("Joined through an invite link"),
    3: _("Scanned the group QR code"),
}
PHONE_KEYS = ("mobile", "phone", "tel")
PHONE_LIKE = re.compile(r"^\+?\d{7,20}$")


@register.filter(name="mask_phone")
def mask_phone_filter(value: Any) -> str:
    """`{{ number|mask_phone }}`: 138****5678, whoever reads the page."""
    return mask_phone(str(value or ""))


@register.filter
def phone_for(value: Any, user: Any) -> str:
    """`{{ number|phone_for:request.user }}`: in full for admins and operators, else masked."""
    text = str(value or "")
    return text if can_see_phones(user) else mask_phone(text)


@register.filter
def phones_for(values: Any, user: Any) -> str:
    """`{{ relation.remark_mobiles|phones_for:request.user }}`: the numbers, comma-separated."""
    return ", ".join(phone_for(value, user) for value in values or [])


def _shown(value: Any, user: Any, *, phone_key: bool) -> str:
    if isinstance(value, dict):
        return "; ".join(
            f"{key}={_shown(item, user, phone_key=_is_phone_key(key))}"
            for key, item in value.items()
        )
    if isinstance(value, list | tuple):
        return ", ".join(_shown(item, user, phone_key=phone_key) for item in value)
    text = "" if value is None else str(value)
    if (phone_key or PHONE_LIKE.match(text)) and not can_see_phones(user):
        return mask_phone(text)
    return text


def _is_phone_key(key: Any) -> bool:
    return any(part in str(key).lower() for part in PHONE_KEYS)


@register.filter
def event_details(data: Any, user: Any) -> list[tuple[str, str]]:
    """A timeline entry's data as (key, text) pairs; phone numbers masked for viewers."""
    if not isinstance(data, dict):
        return []
    return [
        (str(key), _shown(value, user, phone_key=_is_phone_key(key))) for key, value in data.items()
    ]


@register.filter
def join_scene(value: Any) -> str:
    try:
        label = JOIN_SCENES.get(int(value))
    except (TypeError, ValueError):
        label = None
    return str(label) if label is not None else str(value or "—")
