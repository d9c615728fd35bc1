"""Console forms of the tag catalogue: shape and length checks only; the rules (names
taken, WeCom's limits, unknown tags) are the services'."""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tagging.models import NAME_MAX

NAME_SEPARATORS = re.compile(r"[\n\r,，、;；]+")
TAG_NAMES_MAX = 100  # per form: WeCom takes a whole batch in one call


class TagNamesField(forms.CharField):
    """Tag names typed one per line (or separated by commas), as a list without repeats."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Tags"))
        kwargs.setdefault("max_length", TAG_NAMES_MAX * (NAME_MAX + 1))
        kwargs.setdefault(
            "help_text", _("One per line, or separated by commas; at most 30 characters each.")
        )
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)
        names = list(dict.fromkeys(n.strip() for n in NAME_SEPARATORS.split(text) if n.strip()))
        if not names:
            raise forms.ValidationError(_("Give at least one tag name."))
        if len(names) > TAG_NAMES_MAX:
            raise forms.ValidationError(
                _("At most %(max)d tags at a time."), params={"max": TAG_NAMES_MAX}
            )
        too_long = [n for n in names if len(n) > NAME_MAX]
        if too_long:
            raise forms.ValidationError(
                _("Names are at most %(max)d characters: %(names)s"),
                params={"max": NAME_MAX, "names": "、".join(too_long)},
            )
        return names


def name_field(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=NAME_MAX,
        strip=True,
        error_messages={"required": _("The name is empty.")},
    )


class GroupCreateForm(forms.Form):
    group_name = name_field(_("Tag group name"))
    tags = TagNamesField()


class TagsAddForm(forms.Form):
    tags = TagNamesField(label=_("New tags"), widget=forms.Textarea(attrs={"rows": 2}))


class RenameForm(forms.Form):
    name = name_field(_("New name"))


class RelationTagsForm(forms.Form):
    """Add one tag to, or remove one from, a relation (WeCom tag ids)."""

    add = forms.CharField(required=False, max_length=64)
    remove = forms.CharField(required=False, max_length=64)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("add") and not cleaned.get("remove"):
            raise forms.ValidationError(_("Choose a tag to add or remove."))
        return cleaned
