"""Console forms of channels: parsing and shape checks only.

What makes a channel valid (a guide per strategy, caps, hours with a backup, known tags,
WeCom's limits) is decided by `channels_qr.services`, and a welcome message's rules by
`channels_qr.welcome_messages`; their messages are shown on the page.
"""

import re
from datetime import date, time
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels_qr.models import Channel, ChannelGroup, WelcomeMessage
from channels_qr.selectors import STATS_DAYS_MAX
from channels_qr.services import ChannelData, GuideEntry
from contacts.forms import DATE_INPUT_FORMATS, GuideReferenceField
from contacts.models import Store
from contacts.selectors import guides_find
from tagging.audience_forms import DATETIME_INPUT_FORMATS, WEEKDAYS, TagsField, TagsFormMixin

GUIDE_LINE_SEPARATORS = re.compile(r"[,，;；\s]+")
LINK_SEPARATORS = re.compile(r"\s*[|｜]\s*")
HOUR_RANGES = re.compile(r"[,，;；\s]+")
GUIDE_LINES_MAX = 100  # a multi-person way lists at most 100 guides
LINKS_MAX = 9
PLACEHOLDER_HELP = _(
    "Placeholders: {客户昵称} or {nickname} for the customer's WeChat name (left out, with "
    "its comma, when not known yet), {导购姓名} or {guide_name} for the guide's name."
)


def _datetime_field(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


# --- attachments --------------------------------------------------------------------------


def _media_field() -> "forms.ModelMultipleChoiceField[Any]":
    from scrm.wecom.models import MediaAsset

    return forms.ModelMultipleChoiceField(
        label=_("Images and files from the media library"),
        queryset=MediaAsset.objects.order_by("-created_at", "-id"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text=_("Sent as attachments, in this order after the text."),
    )


def _links_field() -> forms.CharField:
    return forms.CharField(
        label=_("Links"),
        required=False,
        max_length=LINKS_MAX * 3000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_(
            "One per line: title | https://address | picture address (optional) | "
            "description (optional)."
        ),
    )


def links_text(items: list[dict[str, Any]]) -> str:
    lines = []
    for item in items:
        if item.get("msgtype") == "link":
            parts = [item.get(k, "") for k in ("title", "url", "picurl", "desc")]
            while parts and not parts[-1]:
                parts.pop()
            lines.append(" | ".join(parts))
    return "\n".join(lines)


def media_ids_of(items: list[dict[str, Any]]) -> list[int]:
    return [
        int(item["media"])
        for item in items
        if item.get("msgtype") in ("image", "file", "video") and str(item.get("media")).isdigit()
    ]


class AttachmentsMixin:
    """A media picker and a links box, turned into the stored attachment list. Attachments
    the console cannot edit (mini-program cards, set through the API) are kept as they
    were."""

    cleaned_data: dict[str, Any]
    kept_attachments: list[dict[str, Any]]

    def clean_links(self) -> list[dict[str, str]]:
        links = []
        for number, line in enumerate(self.cleaned_data["links"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = LINK_SEPARATORS.split(line.strip())
            if len(parts) < 2 or len(parts) > 4:
                raise forms.ValidationError(
                    _("Line %(n)d: write title | address, optionally | picture | description."),
                    params={"n": number},
                )
            parts += [""] * (4 - len(parts))
            links.append(dict(zip(("title", "url", "picurl", "desc"), parts, strict=True)))
        return links

    def attachments(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = [
            {"msgtype": asset.kind, "media": asset.pk}
            for asset in self.cleaned_data["media_assets"]
        ]
        items += [{"msgtype": "link", **link} for link in self.cleaned_data["links"]]
        items += self.kept_attachments
        return items


def kept_of(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in items if item.get("msgtype") == "miniprogram"]


# --- groups -------------------------------------------------------------------------------


class ChannelGroupForm(forms.Form):
    name = forms.CharField(
        label=_("Channel group name"),
        max_length=100,
        strip=True,
        error_messages={"required": _("The name is empty.")},
    )


class ChannelFilterForm(forms.Form):
    """The channels list's filters (GET): a bad value is ignored, never a 500."""

    group: "forms.ModelChoiceField[Any]" = forms.ModelChoiceField(
        queryset=ChannelGroup.objects.order_by("order", "name", "id"),
        required=False,
        label=_("Channel group"),
        empty_label=_("All groups"),
    )
    deleted = forms.BooleanField(required=False, label=_("Show deleted channels"))


# --- channels -----------------------------------------------------------------------------


def _parse_guides(text: str) -> list[tuple[str, int | None, int]]:
    """Lines "userid, cap, weight" (cap and weight optional; "-" or empty: no cap)."""
    entries: list[tuple[str, int | None, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = [p for p in GUIDE_LINE_SEPARATORS.split(line.strip()) if p]
        if not parts:
            continue
        if len(parts) > 3:
            raise forms.ValidationError(
                _("Line %(n)d: write userid, daily cap, weight."), params={"n": number}
            )
        cap: int | None = None
        weight = 1
        try:
            if len(parts) > 1 and parts[1] not in ("-", "—", "0"):
                cap = int(parts[1])
            if len(parts) > 2:
                weight = int(parts[2])
        except ValueError:
            raise forms.ValidationError(
                _("Line %(n)d: the daily cap and the weight are whole numbers."),
                params={"n": number},
            ) from None
        entries.append((parts[0], cap, weight))
    if len(entries) > GUIDE_LINES_MAX:
        raise forms.ValidationError(
            _("At most %(n)d guides on one live code."), params={"n": GUIDE_LINES_MAX}
        )
    return entries


def _parse_hours(text: str) -> list[tuple[time, time]]:
    """ "09:00-12:00, 14:00-21:30" -> [(start, end), ...]."""
    ranges = []
    for part in HOUR_RANGES.split(text.strip()):
        if not part:
            continue
        match = re.fullmatch(r"(\d{1,2}):(\d{2})[-–~至到](\d{1,2}):(\d{2})", part)
        if match is None:
            raise forms.ValidationError(
                _("Write hours as 09:00-21:00; several ranges separated by commas.")
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise forms.ValidationError(
                _("%(value)s is not a time of day."), params={"value": part}
            )
        end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
        ranges.append((time(h1, m1), end))
    return ranges


def _hours_text(ranges: list[tuple[time, time]]) -> str:
    def label(value: time) -> str:
        return "24:00" if value == time(23, 59, 59) else value.strftime("%H:%M")

    return ", ".join(f"{label(start)}-{label(end)}" for start, end in ranges)


class ChannelForm(AttachmentsMixin, TagsFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, strip=True)
    group: "forms.ModelChoiceField[Any]" = forms.ModelChoiceField(
        queryset=ChannelGroup.objects.order_by("order", "name", "id"),
        required=False,
        label=_("Channel group"),
        empty_label=_("No group"),
    )
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_("An inactive channel's code sends every customer to the backup guide."),
    )
    starts_at = _datetime_field(_("Starts"))
    ends_at = _datetime_field(_("Ends"))
    strategy = forms.ChoiceField(
        label=_("Assignment"),
        choices=Channel.Strategy.choices,
        initial=Channel.Strategy.SEVERAL,
        widget=forms.RadioSelect,
    )
    guides = forms.CharField(
        label=_("Guides"),
        required=False,
        max_length=GUIDE_LINES_MAX * 120,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=_(
            "One guide per line: WeCom userid (or our guide id), daily cap, weight. For "
            "example “amy, 30, 2”; leave the cap out (or write -) for no cap; the weight "
            "(1-100, default 1) only counts for weighted assignment."
        ),
    )
    store: "forms.ModelChoiceField[Any]" = forms.ModelChoiceField(
        queryset=Store.objects.order_by("order", "department_id"),
        required=False,
        label=_("Store"),
        empty_label="—",
        help_text=_("For “the guides of one store”: its active guides take the customers."),
    )
    backup_guide = GuideReferenceField(
        label=_("Backup guide"),
        help_text=_(
            "Takes the customers when every guide reached the cap, outside working hours, "
            "and while the channel is inactive or outside its dates."
        ),
    )
    tags = TagsField(label=_("Tags to apply"), required=False)
    welcome_text = forms.CharField(
        label=_("Welcome text"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=PLACEHOLDER_HELP,
    )
    media_assets = _media_field()
    links = _links_field()
    skip_verify = forms.BooleanField(
        label=_("Add without the guide confirming"),
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, channel: Channel | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._load_tag_choices()
        self.kept_attachments = kept_of(list(channel.welcome_attachments)) if channel else []
        for day, label in WEEKDAYS:
            self.fields[f"hours_{day}"] = forms.CharField(
                label=label,
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"placeholder": "10:00-22:00", "size": 24}),
            )

    @property
    def hour_fields(self) -> list[forms.BoundField]:
        return [self[f"hours_{day}"] for day, _label in WEEKDAYS]

    @property
    def main_fields(self) -> list[forms.BoundField]:
        return [f for f in self if not f.name.startswith("hours_")]

    @classmethod
    def initial_for(cls, channel: Channel) -> dict[str, Any]:
        hours: dict[int, list[tuple[time, time]]] = {}
        for h in channel.hours.all():
            hours.setdefault(h.weekday, []).append((h.start, h.end))
        guides = [
            ", ".join(
                [
                    entry.guide.userid,
                    str(entry.daily_cap) if entry.daily_cap else "-",
                    str(entry.weight),
                ]
            )
            for entry in channel.guides.all()
        ]
        return {
            "name": channel.name,
            "group": channel.group_id,
            "is_active": channel.is_active,
            "starts_at": channel.starts_at,
            "ends_at": channel.ends_at,
            "strategy": channel.strategy,
            "guides": "\n".join(guides),
            "store": channel.store_id,
            "backup_guide": channel.backup_guide.userid if channel.backup_guide else "",
            "tags": list(channel.tag_ids),
            "welcome_text": channel.welcome_text,
            "media_assets": media_ids_of(channel.welcome_attachments),
            "links": links_text(channel.welcome_attachments),
            "skip_verify": channel.skip_verify,
            **{f"hours_{day}": _hours_text(ranges) for day, ranges in hours.items()},
        }

    def clean_guides(self) -> list[GuideEntry]:
        entries = _parse_guides(self.cleaned_data["guides"])
        guides, missing = guides_find(refs=[ref for ref, _cap, _weight in entries])
        if missing:
            raise forms.ValidationError(
                _("No guide with the userid or id: %(refs)s."), params={"refs": ", ".join(missing)}
            )
        by_ref = {g.userid: g for g in guides} | {str(g.pk): g for g in guides}
        return [
            GuideEntry(guide_id=by_ref[ref].pk, daily_cap=cap, weight=weight)
            for ref, cap, weight in entries
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for day, _label in WEEKDAYS:
            name = f"hours_{day}"
            if name in cleaned:
                try:
                    cleaned[name] = _parse_hours(cleaned[name] or "")
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
        return cleaned

    def to_data(self) -> ChannelData:
        """The cleaned form as the services' input."""
        data = self.cleaned_data
        hours = [
            (day, start, end)
            for day, _label in WEEKDAYS
            for start, end in data.get(f"hours_{day}") or []
        ]
        backup = data.get("backup_guide")
        return ChannelData(
            name=data["name"],
            strategy=data["strategy"],
            group_id=data["group"].pk if data.get("group") else None,
            is_active=data["is_active"],
            starts_at=data.get("starts_at"),
            ends_at=data.get("ends_at"),
            tag_ids=list(data.get("tags") or []),
            welcome_text=data.get("welcome_text", ""),
            welcome_attachments=self.attachments(),
            guides=list(data.get("guides") or []),
            store_id=data["store"].pk if data.get("store") else None,
            backup_guide_id=backup.pk if backup is not None else None,
            hours=hours,
            skip_verify=data["skip_verify"],
        )


# --- welcome messages ---------------------------------------------------------------------


class WelcomeMessageForm(AttachmentsMixin, forms.Form):
    scope = forms.ChoiceField(
        label=_("For"),
        choices=WelcomeMessage.Scope.choices,
        initial=WelcomeMessage.Scope.DEFAULT,
        widget=forms.RadioSelect,
    )
    guide = GuideReferenceField(label=_("Guide"), help_text=_("For “a guide”."))
    store: "forms.ModelChoiceField[Any]" = forms.ModelChoiceField(
        queryset=Store.objects.order_by("order", "department_id"),
        required=False,
        label=_("Store"),
        empty_label="—",
        help_text=_("For “a store”: every guide of the store without a welcome of their own."),
    )
    text = forms.CharField(
        label=_("Welcome text"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=PLACEHOLDER_HELP,
    )
    media_assets = _media_field()
    links = _links_field()

    def __init__(self, *args: Any, message: WelcomeMessage | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept_attachments = kept_of(list(message.attachments)) if message else []

    @classmethod
    def initial_for(cls, message: WelcomeMessage) -> dict[str, Any]:
        return {
            "scope": message.scope,
            "guide": message.guide.userid if message.guide else "",
            "store": message.store_id,
            "text": message.text,
            "media_assets": media_ids_of(message.attachments),
            "links": links_text(message.attachments),
        }


# --- stats --------------------------------------------------------------------------------


class StatsRangeForm(forms.Form):
    """The stats' date range (GET `?from=&to=`, as in the API); empty: the last 30 days."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in (("from", _("First day")), ("to", _("Last day"))):
            self.fields[name] = forms.DateField(
                label=label,
                required=False,
                input_formats=DATE_INPUT_FORMATS,
                widget=forms.DateInput(attrs={"type": "date"}),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start: date | None = cleaned.get("from")
        end: date | None = cleaned.get("to")
        if start and end:
            if start > end:
                self.add_error("to", _("The end date is before the start date."))
            elif (end - start).days + 1 > STATS_DAYS_MAX:
                self.add_error(
                    "to",
                    forms.ValidationError(
                        _("At most %(n)d days at a time."), params={"n": STATS_DAYS_MAX}
                    ),
                )
        return cleaned

    def dates(self) -> tuple[date | None, date | None]:
        """The valid dates (an invalid one is left out: the default range is used)."""
        if not self.is_valid():
            bad = set(self.errors)
            data = {k: v for k, v in self.cleaned_data.items() if k not in bad}
            if "to" in bad:
                data.pop("from", None)
        else:
            data = self.cleaned_data
        return data.get("from"), data.get("to")
