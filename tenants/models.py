"""Public schema: tenants (brands), their domains and their WeCom corp connection."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from scrm.encryption import EncryptedTextField, mask

# schema_name is checked by django-tenants too; ours is stricter so it can double as a slug.
schema_name_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{1,40}$",
    _("Lowercase letters, digits and underscores, starting with a letter (2-41 characters)."),
)


class Tenant(TenantMixin):
    name: "models.CharField[str, str]" = models.CharField(_("brand name"), max_length=100)
    is_active: "models.BooleanField[bool, bool]" = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("A deactivated tenant's console, API and background work are stopped."),
    )
    created_at: "models.DateTimeField[Any, Any]" = models.DateTimeField(auto_now_add=True)
    # Set once the schema exists and its migrations ran; periodic work waits for it.
    provisioned_at: "models.DateTimeField[Any, Any]" = models.DateTimeField(
        null=True, blank=True, editable=False
    )

    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"


class Domain(DomainMixin):
    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")


corp_id_validator = RegexValidator(r"^[A-Za-z0-9_-]{4,64}$", _("Not a valid WeCom corp id."))
aes_key_validator = RegexValidator(
    r"^[A-Za-z0-9]{43}$", _("EncodingAESKey is exactly 43 letters and digits.")
)


class WeComCorp(models.Model):
    """A tenant's WeCom corp (企业微信企业)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="wecom_corp")
    corp_id = models.CharField(
        _("corp id"), max_length=64, unique=True, validators=[corp_id_validator]
    )
    api_base_url = models.URLField(
        _("API base URL"),
        default=settings.WECOM_API_BASE_URL,
        help_text=_("WeCom itself unless this tenant talks to the WeCom sandbox."),
    )
    rate_limits = models.JSONField(
        _("rate limit overrides"),
        default=dict,
        blank=True,
        help_text=_('Overrides of WECOM_RATE_LIMITS, e.g. {"per_corp": [[1000, 60]]}.'),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("WeCom corp")
        verbose_name_plural = _("WeCom corps")

    def __str__(self) -> str:
        return self.corp_id

    def clean(self) -> None:
        if not settings.WECOM_SANDBOX_ENABLED and not self.api_base_url.startswith("https://"):
            raise ValidationError(
                {"api_base_url": _("WeCom is reached over https only (the sandbox is disabled).")}
            )
        if not self.api_base_url.endswith("/"):
            self.api_base_url += "/"


class WeComApp(models.Model):
    """One app of a corp, with its credentials and callback keys (all encrypted at rest)."""

    class Kind(models.TextChoices):
        CUSTOMER_CONTACT = "customer_contact", _("Customer contact app")
        CONTACTS_SYNC = "contacts_sync", _("Contacts sync")

    corp = models.ForeignKey(WeComCorp, on_delete=models.CASCADE, related_name="apps")
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    agent_id = models.PositiveIntegerField(
        _("agent id"), null=True, blank=True, help_text=_("Not used by contacts sync.")
    )
    secret = EncryptedTextField(_("secret"))
    callback_token = EncryptedTextField(_("callback token"), blank=True)
    encoding_aes_key = EncryptedTextField(
        _("EncodingAESKey"), blank=True, validators=[aes_key_validator]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("WeCom app")
        verbose_name_plural = _("WeCom apps")
        constraints = [
            models.UniqueConstraint(fields=["corp", "kind"], name="wecom_app_one_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.corp.corp_id} / {self.get_kind_display()}"

    @property
    def secret_hint(self) -> str:
        return mask(self.secret)

    def clean(self) -> None:
        if self.kind == self.Kind.CUSTOMER_CONTACT and not self.agent_id:
            raise ValidationError({"agent_id": _("The customer contact app needs its AgentId.")})
