"""Console forms of webhooks: shapes only; the URL rules (SSRF) are the services'."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery
from webhooks.services import DESCRIPTION_MAX
from webhooks.targets import URL_MAX


def event_type_choices() -> list[tuple[str, str]]:
    return [(name, f"{name} · {label}") for name, label in EVENT_TYPES.items()]


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=URL_MAX,
        widget=forms.URLInput(attrs={"placeholder": "https://crm.example.com/scrm/webhooks"}),
        help_text=_("http:// or https://; redirects are not followed."),
    )
    description = forms.CharField(
        label=_("Description"), max_length=DESCRIPTION_MAX, required=False
    )
    event_types = forms.MultipleChoiceField(
        label=_("Events"),
        choices=event_type_choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )


class RotateForm(forms.Form):
    expire_now = forms.BooleanField(
        label=_("Stop signing with the old secret at once (choose this if it leaked)"),
        required=False,
        help_text=_("Otherwise requests carry a signature with each secret for 24 hours."),
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Any status")), *Delivery.Status.choices],
        required=False,
    )

    def statuses(self) -> list[str]:
        data: dict[str, Any] = self.cleaned_data if self.is_valid() else {}
        return [data["status"]] if data.get("status") else []
