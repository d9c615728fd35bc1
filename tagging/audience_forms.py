"""Console forms of segments, auto-tag rules and bulk tagging jobs: shape checks only.

What makes a definition, a rule or a job valid (known tags, guides, dates in order, the CSV
format) is decided by the services; their messages are shown through `service_message`,
which translates the ones it knows.
"""

import json
import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import Relation, Store
from contacts.selectors import guides_find
from tagging.models import AutoTagRule, BulkTagJob

EMPTY_DEFINITION: dict[str, Any] = {"op": "and", "rules": []}
GUIDE_REF_SEPARATORS = re.compile(r"[\s,，;；、]+")
DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]
WEEKDAYS = [
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
    (7, _("Sunday")),
]


def service_message(text: Any) -> str:
    """A service error (already in the request's language) or a bulk row's stored reason
    (translated here)."""
    from tagging.bulk import row_reason_text

    return row_reason_text(str(text))


def tag_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The catalogue as <optgroup>s: (group name, [(tag id, tag name)]), in WeCom's order
    (one query)."""
    from tagging.selectors import tag_options

    groups: dict[int, tuple[str, list[tuple[str, str]]]] = {}
    for tag in tag_options():
        groups.setdefault(tag.group_id, (tag.group.name, []))[1].append((tag.tag_id, tag.name))
    return list(groups.values())


class TagsField(forms.MultipleChoiceField):
    """Tags picked from the catalogue, grouped by tag group; the form sets the choices."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Tags"))
        kwargs.setdefault("widget", forms.SelectMultiple(attrs={"size": 8}))
        kwargs.setdefault(
            "help_text", _("Hold Ctrl (⌘ on a Mac) to pick several; start typing to jump.")
        )
        super().__init__(**kwargs)


class TagsFormMixin:
    """Loads the catalogue once per form into its TagsFields."""

    fields: dict[str, forms.Field]

    def _load_tag_choices(self) -> None:
        choices = tag_choices()
        for field in self.fields.values():
            if isinstance(field, TagsField):
                field.choices = choices


def action_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("Action"),
        choices=[
            (BulkTagJob.Action.ADD, _("Add the tags")),
            (BulkTagJob.Action.REMOVE, _("Remove the tags")),
        ],
        initial=BulkTagJob.Action.ADD,
        widget=forms.RadioSelect,
    )


# --- segments ------------------------------------------------------------------------------


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, strip=True)
    description = forms.CharField(
        label=_("Description"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    definition = forms.CharField(
        label=_("Conditions (JSON)"),
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "definition"}),
        error_messages={"required": _("Add the conditions.")},
    )

    def clean_definition(self) -> dict[str, Any]:
        try:
            definition = json.loads(self.cleaned_data["definition"])
        except ValueError:
            raise forms.ValidationError(_("The conditions are not valid JSON.")) from None
        if not isinstance(definition, dict):
            raise forms.ValidationError(_("The conditions are a JSON object (a group)."))
        return definition


def definition_text(definition: Any) -> str:
    return json.dumps(definition, ensure_ascii=False)


class SegmentPreviewForm(forms.Form):
    definition = forms.CharField(max_length=200_000)


class BulkFromSegmentForm(TagsFormMixin, forms.Form):
    action = action_field()
    tags = TagsField()
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._load_tag_choices()


# --- bulk jobs from a CSV -----------------------------------------------------------------


class BulkCsvForm(TagsFormMixin, forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "One customer per line: an external_userid (wm…/wo…) or a phone number a guide "
            "noted. UTF-8 or GBK (as Excel saves it); a header line is optional."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )
    action = action_field()
    tags = TagsField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._load_tag_choices()


# --- auto-tag rules -----------------------------------------------------------------------


class RuleForm(TagsFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, strip=True)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    tags = TagsField(label=_("Tags to apply"))
    channels: "forms.ModelMultipleChoiceField[Any]" = forms.ModelMultipleChoiceField(
        label=_("Channels"),
        queryset=None,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text=_("Customers who scanned a live code of one of these channels."),
    )
    add_ways = forms.TypedMultipleChoiceField(
        label=_("How added"),
        choices=Relation.AddWay.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    guides = forms.CharField(
        label=_("Guides"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("WeCom userids or guide ids, separated by commas, spaces or new lines."),
    )
    stores = forms.ModelMultipleChoiceField(
        label=_("Stores"),
        queryset=Store.objects.order_by("order", "department_id"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    valid_from = forms.DateTimeField(
        label=_("Campaign from"),
        required=False,
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    valid_until = forms.DateTimeField(
        label=_("Campaign until"),
        required=False,
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    hour_from = forms.TimeField(
        label=_("Daily from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    hour_until = forms.TimeField(
        label=_("Daily until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("22:00 to 06:00 runs over midnight."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from channels_qr.models import Channel

        super().__init__(*args, **kwargs)
        self._load_tag_choices()
        channels = self.fields["channels"]
        assert isinstance(channels, forms.ModelMultipleChoiceField)
        channels.queryset = Channel.objects.order_by("name", "id")

    @classmethod
    def for_rule(cls, rule: AutoTagRule) -> "RuleForm":
        return cls(
            initial={
                "name": rule.name,
                "is_active": rule.is_active,
                "tags": list(rule.tag_ids),
                "channels": [c.pk for c in rule.channels.all()],
                "add_ways": list(rule.add_ways),
                "guides": " ".join(g.userid for g in rule.guides.all()),
                "stores": [s.pk for s in rule.stores.all()],
                "valid_from": rule.valid_from,
                "valid_until": rule.valid_until,
                "weekdays": list(rule.weekdays),
                "hour_from": rule.hour_from,
                "hour_until": rule.hour_until,
            }
        )

    def clean_guides(self) -> list[int]:
        refs = [r for r in GUIDE_REF_SEPARATORS.split(self.cleaned_data["guides"]) if r]
        guides, missing = guides_find(refs=refs)
        if missing:
            raise forms.ValidationError(
                _("No guide with the userid or id: %(refs)s."), params={"refs": ", ".join(missing)}
            )
        return [guide.pk for guide in guides]

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned form as `tagging.rules.rule_save` arguments."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "is_active": data["is_active"],
            "tag_ids": list(data["tags"]),
            "channel_ids": [c.pk for c in data["channels"]],
            "add_ways": list(data["add_ways"]),
            "guide_ids": list(data["guides"]),
            "store_ids": [s.pk for s in data["stores"]],
            "valid_from": data["valid_from"],
            "valid_until": data["valid_until"],
            "weekdays": list(data["weekdays"]),
            "hour_from": data["hour_from"],
            "hour_until": data["hour_until"],
        }
