from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import APIKey
from accounts.services import (
    login_failure_record,
    login_failures_clear,
    login_lockout_remaining,
)
from scrm.client_ip import client_ip


class ThrottledLoginForm(AuthenticationForm):
    """Django's login form, with a cool-down after repeated failures per user and address."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed attempts. Try again in %(minutes)d minutes."),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        assert self.request is not None
        remaining = login_lockout_remaining(username=username, ip=client_ip(self.request))
        if remaining:
            raise forms.ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"minutes": max(1, (remaining + 59) // 60)},
            )
        try:
            cleaned: dict[str, Any] = super().clean()
        except forms.ValidationError:
            if username:
                login_failure_record(username=username, request=self.request)
            raise
        login_failures_clear(username=username, request=self.request)
        return cleaned


class APIKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Who uses it, e.g. 'ERP sync'.")
    )
    scope = forms.ChoiceField(label=_("Scope"), choices=APIKey.Scope.choices)
    sees_phones = forms.BooleanField(
        label=_("May read phone numbers"),
        required=False,
        help_text=_("Without it, customers' phone numbers reach this key masked (138****5678)."),
    )
