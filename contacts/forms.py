"""Console forms of the contact book: list filters (GET) and the deletion alert settings."""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import ContactSettings, Customer, GroupChat, Guide, Relation, Store
from contacts.selectors import CustomerFilters, guide_find, guides_find

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]


def _all(label: Any, choices: Any) -> list[tuple[Any, Any]]:
    return [("", label), *choices]


class GuideReferenceField(forms.CharField):
    """A guide named by WeCom userid or by our id, typed in a text box: a brand has tens of
    thousands of guides, too many for a <select>."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("widget", forms.TextInput(attrs={"placeholder": _("Guide userid or id")}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Guide | None:
        ref = super().clean(value)
        if not ref:
            return None
        guide = guide_find(ref=ref)
        if guide is None:
            raise forms.ValidationError(
                _("No guide with the userid or id “%(ref)s”."), params={"ref": ref}
            )
        return guide


def store_field() -> forms.ModelChoiceField:
    # Stores are WeCom departments: a few hundred at most, so a <select> is fine.
    return forms.ModelChoiceField(
        queryset=Store.objects.order_by("order", "department_id"),
        required=False,
        label=_("Store"),
        empty_label=_("All stores"),
    )


class FilterForm(forms.Form):
    """A GET form whose invalid fields are reported and then ignored, never a 500."""

    def error_list(self) -> list[str]:
        errors: list[str] = []
        for name, field_errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else ""
            for error in field_errors:
                errors.append(f"{label}: {error}" if label else str(error))
        if errors:
            errors.append(str(_("Filters with errors were ignored.")))
        return errors

    def value_of(self, name: str, default: Any = None) -> Any:
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        value = self.cleaned_data.get(name, default)
        return default if value in (None, "") else value


class CustomerFilterForm(FilterForm):
    q = forms.CharField(
        required=False,
        max_length=100,
        label=_("Search"),
        widget=forms.TextInput(attrs={"placeholder": _("Name, remark or phone"), "type": "search"}),
    )
    guide = GuideReferenceField(label=_("Guide"))
    store = store_field()
    status = forms.ChoiceField(
        required=False,
        label=_("Relation status"),
        choices=_all(_("Any status"), Relation.Status.choices),
    )
    added_from = forms.DateField(
        required=False,
        label=_("Added from"),
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    added_to = forms.DateField(
        required=False,
        label=_("Added to"),
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    add_way = forms.TypedChoiceField(
        required=False,
        label=_("How added"),
        coerce=int,
        empty_value=None,
        choices=_all(_("Any way"), Relation.AddWay.choices),
    )
    customer_type = forms.TypedChoiceField(
        required=False,
        label=_("Customer type"),
        coerce=int,
        empty_value=None,
        choices=_all(_("Any type"), Customer.Type.choices),
    )
    state = forms.CharField(
        required=False,
        max_length=64,
        label=_("Channel state"),
        widget=forms.TextInput(attrs={"placeholder": _("state")}),
    )
    # Any of these tags on some relation; the catalogue's choices are loaded per form.
    tag = forms.MultipleChoiceField(
        required=False,
        label=_("Tags (any of)"),
        widget=forms.SelectMultiple(attrs={"size": 3}),
    )
    segment: "forms.ModelChoiceField[Any]" = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label=_("Segment"),
        empty_label=_("Any segment"),
    )
    channel: "forms.ModelChoiceField[Any]" = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label=_("Channel"),
        empty_label=_("Any channel"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from channels_qr.models import Channel
        from tagging.audience_forms import tag_choices
        from tagging.models import Segment

        super().__init__(*args, **kwargs)
        tag = self.fields["tag"]
        assert isinstance(tag, forms.MultipleChoiceField)
        tag.choices = tag_choices()
        segment = self.fields["segment"]
        assert isinstance(segment, forms.ModelChoiceField)
        segment.queryset = Segment.objects.order_by("name", "id")
        channel = self.fields["channel"]
        assert isinstance(channel, forms.ModelChoiceField)
        channel.queryset = Channel.objects.order_by("name", "id")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        added_from, added_to = cleaned.get("added_from"), cleaned.get("added_to")
        if added_from and added_to and added_from > added_to:
            self.add_error("added_to", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> CustomerFilters:
        """The valid filters; invalid ones are left out (see `error_list`)."""
        guide = self.value_of("guide")
        store = self.value_of("store")
        return CustomerFilters(
            q=self.value_of("q", ""),
            guide_id=guide.pk if guide is not None else None,
            store_id=store.pk if store is not None else None,
            status=self.value_of("status", ""),
            added_from=self.value_of("added_from"),
            added_to=self.value_of("added_to"),
            add_way=self.value_of("add_way"),
            state=self.value_of("state", ""),
            customer_type=self.value_of("customer_type"),
            tag_ids=list(self.value_of("tag", [])),
            segment_id=segment.pk if (segment := self.value_of("segment")) is not None else None,
            channel_id=channel.pk if (channel := self.value_of("channel")) is not None else None,
        )


def filters_for_audit(filters: CustomerFilters) -> dict[str, Any]:
    """The filters that are set, as JSON values (for the audit log)."""
    detail: dict[str, Any] = {}
    for name, value in vars(filters).items():
        if value in (None, "", []):
            continue
        detail[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return detail


class GuideFilterForm(FilterForm):
    q = forms.CharField(
        required=False,
        max_length=100,
        label=_("Search"),
        widget=forms.TextInput(attrs={"placeholder": _("Name or userid"), "type": "search"}),
    )
    store = store_field()
    status = forms.ChoiceField(
        required=False,
        label=_("Status"),
        choices=_all(_("Any status"), Guide.Status.choices),
    )


class GroupChatFilterForm(FilterForm):
    q = forms.CharField(
        required=False,
        max_length=100,
        label=_("Search"),
        widget=forms.TextInput(attrs={"placeholder": _("Group name"), "type": "search"}),
    )
    owner = GuideReferenceField(label=_("Owner"))
    status = forms.ChoiceField(
        required=False,
        label=_("Status"),
        choices=_all(_("Any status"), GroupChat.Status.choices),
    )


RECIPIENT_SEPARATORS = re.compile(r"[\s,，;；、]+")


class ContactSettingsForm(forms.Form):
    deletion_alert_mode = forms.ChoiceField(
        label=_("Deletion alerts"), choices=ContactSettings.AlertMode.choices
    )
    alert_on_guide_deletes = forms.BooleanField(
        required=False, label=_("Also alert when a guide deletes a customer")
    )
    daily_sync_enabled = forms.BooleanField(required=False, label=_("Nightly full sync"))
    recipients = forms.CharField(
        required=False,
        max_length=5000,
        label=_("Also tell these guides"),
        help_text=_(
            "WeCom userids or guide ids, separated by commas, spaces or new lines. "
            "The store's managers are always told."
        ),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    @classmethod
    def for_settings(cls, row: ContactSettings) -> "ContactSettingsForm":
        userids = row.deletion_alert_recipients.order_by("userid").values_list("userid", flat=True)
        return cls(
            initial={
                "deletion_alert_mode": row.deletion_alert_mode,
                "alert_on_guide_deletes": row.alert_on_guide_deletes,
                "daily_sync_enabled": row.daily_sync_enabled,
                "recipients": " ".join(userids),
            }
        )

    def clean_recipients(self) -> list[int]:
        refs = [r for r in RECIPIENT_SEPARATORS.split(self.cleaned_data["recipients"]) if r]
        guides, missing = guides_find(refs=refs)
        if missing:
            raise forms.ValidationError(
                _("No guide with the userid or id: %(refs)s."), params={"refs": ", ".join(missing)}
            )
        return [guide.pk for guide in guides]
