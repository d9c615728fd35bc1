"""Console forms of handovers: parsing and shape checks only.

Which guides may be handed over together, who may take over and what WeCom allows are
decided by `handover.allocation` and `handover.services`; their messages (HandoverInputError)
are shown on the page.
"""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import Guide, Store
from contacts.selectors import guides_find
from handover.allocation import MAX_CSV_BYTES
from handover.models import Handover, HandoverSettings, TransferItem
from handover.services import MESSAGE_MAX

GUIDE_SEPARATORS = re.compile(r"[,，;；\s]+")
GUIDES_MAX = 500


class GuideListField(forms.CharField):
    """Guides named by WeCom userid or our id, separated by commas, spaces or new lines (a
    brand has too many guides for a <select>). Cleans to a list of guides."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", GUIDES_MAX * 70)
        kwargs.setdefault(
            "widget",
            forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "placeholder": _("amy, bob")}),
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[Guide]:
        text = super().clean(value) or ""
        refs = [r for r in GUIDE_SEPARATORS.split(text) if r]
        if len(refs) > GUIDES_MAX:
            raise forms.ValidationError(
                _("At most %(n)d guides at a time."), params={"n": GUIDES_MAX}
            )
        guides, missing = guides_find(refs=refs)
        if missing:
            raise forms.ValidationError(
                _("No guide with the userid or id: %(refs)s."), params={"refs": ", ".join(missing)}
            )
        return guides


def guide_refs(guides: list[Guide]) -> str:
    return ", ".join(g.userid for g in guides)


class HandoverForm(forms.Form):
    """The wizard: who is handed over, to whom, and how."""

    from_guides = GuideListField(
        label=_("Guides to hand over"),
        help_text=_(
            "WeCom userids (or our guide ids), separated by commas. Departed guides give a "
            "resigned transfer, working guides an on-duty transfer: hand the two over "
            "separately."
        ),
    )
    mode = forms.ChoiceField(
        label=_("Allocation"),
        choices=Handover.Mode.choices,
        initial=Handover.Mode.EVEN_STORE,
        widget=forms.RadioSelect,
    )
    takers = GuideListField(
        label=_("Takeover guides"),
        required=False,
        help_text=_(
            "For “all to one guide” (exactly one) and “evenly among chosen guides”. Departed "
            "guides and guides outside WeCom's customer-contact range cannot take over."
        ),
    )
    store: "forms.ModelChoiceField[Any]" = forms.ModelChoiceField(
        queryset=Store.objects.order_by("order", "department_id"),
        required=False,
        label=_("Store whose guides take over"),
        empty_label="—",
        help_text=_("For “evenly among the guides of a chosen store”."),
    )
    csv_file = forms.FileField(
        label=_("CSV file"),
        required=False,
        help_text=_(
            "For “by a CSV file”: two columns, customer external_userid and takeover guide "
            "userid; UTF-8 or GBK, a header line is allowed, at most 5 MB. Customers not in "
            "the file are left unallocated."
        ),
    )
    # A file uploaded for the preview, kept (in the tenant's cache) for the confirmation.
    csv_token = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)
    max_per_guide = forms.IntegerField(
        label=_("Maximum customers per takeover guide"),
        required=False,
        min_value=1,
        max_value=1_000_000,
        help_text=_(
            "Their customers now plus what this handover gives them; customers over it are "
            "left unallocated, to re-allocate later. Empty: no maximum."
        ),
    )
    include_chats = forms.BooleanField(
        label=_("Group chats too"),
        required=False,
        initial=True,
        help_text=_("The group chats the guides own go to the takeover guides as well."),
    )
    message = forms.CharField(
        label=_("Message to customers (on-duty transfer)"),
        required=False,
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": MESSAGE_MAX}),
        help_text=_(
            "WeCom shows it to each customer of an on-duty transfer; at most 200 characters. "
            "Not used for departed guides."
        ),
    )
    proposal = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def clean_csv_file(self) -> Any:
        upload = self.cleaned_data.get("csv_file")
        if upload is not None and upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return upload

    def clean_from_guides(self) -> list[Guide]:
        guides: list[Guide] = self.cleaned_data["from_guides"]
        if not guides:
            raise forms.ValidationError(_("Name at least one guide to hand over."))
        return guides


class HandoverSettingsForm(forms.ModelForm):
    class Meta:
        model = HandoverSettings
        fields = ["auto_start", "grace_hours", "max_per_guide", "onjob_message"]
        widgets = {"onjob_message": forms.Textarea(attrs={"rows": 2, "maxlength": MESSAGE_MAX})}
        help_texts = {
            "auto_start": _(
                "A departed guide's proposed handover starts by itself after the grace period, "
                "evenly among the guides of their store."
            ),
            "grace_hours": _("Time to change the proposal (or start it by hand) before it starts."),
            "max_per_guide": _("Empty: no maximum."),
            "onjob_message": _("Prefilled in the wizard; WeCom allows at most 200 characters."),
        }

    def clean_grace_hours(self) -> int:
        hours: int = self.cleaned_data["grace_hours"]
        if hours > 24 * 30:
            raise forms.ValidationError(_("At most 30 days (720 hours)."))
        return hours

    def clean_max_per_guide(self) -> int | None:
        value: int | None = self.cleaned_data.get("max_per_guide")
        if value is not None and value < 1:
            raise forms.ValidationError(_("At least 1, or empty for no maximum."))
        return value


class ReallocateForm(forms.Form):
    takers = GuideListField(
        label=_("Takeover guides"),
        help_text=_("The items go to them evenly, within the handover's maximum per guide."),
    )

    def clean_takers(self) -> list[Guide]:
        guides: list[Guide] = self.cleaned_data["takers"]
        if not guides:
            raise forms.ValidationError(_("Name at least one takeover guide."))
        return guides


class ItemFilterForm(forms.Form):
    """The item table's status filter (GET): a bad value is ignored."""

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses")), *TransferItem.Status.choices],
    )

    def statuses(self) -> list[str]:
        if self.is_valid() and self.cleaned_data["status"]:
            return [self.cleaned_data["status"]]
        return []
