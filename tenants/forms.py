from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from scrm.encryption import mask
from tenants.models import Tenant, WeComApp

SECRET_FIELDS = ("secret", "callback_token", "encoding_aes_key")


class TenantCreateForm(forms.ModelForm):
    domain = forms.CharField(
        label=_("domain"), help_text=_("Host of the brand's console, e.g. acme.scrm.example.com")
    )
    admin_username = forms.CharField(
        label=_("first operator (admin role)"), required=False, max_length=150
    )
    admin_password = forms.CharField(
        label=_("first operator's password"), required=False, widget=forms.PasswordInput
    )

    class Meta:
        model = Tenant
        fields = ["name", "schema_name", "is_active"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        from tenants.models import Domain

        domain = (cleaned.get("domain") or "").lower()
        if domain and Domain.objects.filter(domain=domain).exists():
            self.add_error("domain", _("This domain is already in use."))
        if cleaned.get("admin_username") and not cleaned.get("admin_password"):
            self.add_error("admin_password", _("Set a password for the first operator."))
        return cleaned


class WeComAppForm(forms.ModelForm):
    """Credentials are write-only: the page shows a masked hint, never the stored value."""

    secret = forms.CharField(label=_("secret"), required=False, widget=forms.PasswordInput)
    callback_token = forms.CharField(
        label=_("callback token"), required=False, widget=forms.PasswordInput
    )
    encoding_aes_key = forms.CharField(
        label=_("EncodingAESKey"), required=False, widget=forms.PasswordInput
    )

    class Meta:
        model = WeComApp
        fields = ["corp", "kind", "agent_id", *SECRET_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            field = self.fields[name]
            current = getattr(self.instance, name, "") if self.instance.pk else ""
            self.initial[name] = ""
            if current:
                field.help_text = _("Saved: %(hint)s. Leave empty to keep it.") % {
                    "hint": mask(current)
                }
        if not self.instance.pk:
            self.fields["secret"].required = True

    def _clean_secret_field(self, name: str) -> str:
        value: str = (self.cleaned_data.get(name) or "").strip()
        if not value and self.instance.pk:
            return str(getattr(self.instance, name) or "")
        return value

    def clean_secret(self) -> str:
        return self._clean_secret_field("secret")

    def clean_callback_token(self) -> str:
        return self._clean_secret_field("callback_token")

    def clean_encoding_aes_key(self) -> str:
        return self._clean_secret_field("encoding_aes_key")
