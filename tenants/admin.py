from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tenants.forms import TenantCreateForm, WeComAppForm
from tenants.models import Domain, Tenant, WeComApp, WeComCorp
from tenants.services import tenant_create, tenant_set_active


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "schema_name", "primary_domain", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "schema_name", "domains__domain"]
    actions = ["deactivate", "activate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return super().get_queryset(request).prefetch_related("domains")

    @admin.display(description=_("domain"))
    def primary_domain(self, tenant: Tenant) -> str:
        return ", ".join(d.domain for d in tenant.domains.all() if d.is_primary)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = TenantCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "schema_name", "domain", "admin_username", "admin_password"]
        return ["name", "schema_name", "is_active"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["schema_name"] if obj is not None else []

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return [DomainInline] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Tenant, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = tenant_create(
            name=obj.name,
            schema_name=obj.schema_name,
            domain=form.cleaned_data["domain"],
            admin_username=form.cleaned_data.get("admin_username", ""),
            admin_password=form.cleaned_data.get("admin_password", ""),
            actor=request.user,
        )
        obj.pk = created.pk
        obj.created_at = created.created_at
        obj.provisioned_at = created.provisioned_at
        obj._state.adding = False

    @admin.action(description=_("Deactivate selected tenants"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset.exclude(schema_name="public"):
            tenant_set_active(tenant=tenant, active=False, actor=request.user)
        self.message_user(request, _("Tenants deactivated."), messages.SUCCESS)

    @admin.action(description=_("Activate selected tenants"))
    def activate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset.exclude(schema_name="public"):
            tenant_set_active(tenant=tenant, active=True, actor=request.user)
        self.message_user(request, _("Tenants activated."), messages.SUCCESS)


class WeComAppInline(admin.StackedInline):
    model = WeComApp
    form = WeComAppForm
    extra = 0


@admin.register(WeComCorp)
class WeComCorpAdmin(admin.ModelAdmin):
    list_display = ["corp_id", "tenant", "api_base_url", "updated_at"]
    search_fields = ["corp_id", "tenant__name"]
    list_select_related = ["tenant"]
    inlines = [WeComAppInline]
    actions = ["self_test"]

    @admin.action(description=_("Run the connection self-test"))
    def self_test(self, request: HttpRequest, queryset: QuerySet[WeComCorp]) -> None:
        from scrm.wecom.selftest import wecom_self_test

        for corp in queryset.select_related("tenant"):
            for result in wecom_self_test(tenant=corp.tenant, actor=request.user):
                level = messages.SUCCESS if result.ok else messages.ERROR
                label = f"{corp.corp_id} {result.app_kind} {result.check}".strip()
                self.message_user(request, f"{label}: {result.message}", level)


@admin.register(WeComApp)
class WeComAppAdmin(admin.ModelAdmin):
    form = WeComAppForm
    list_display = ["corp", "kind", "agent_id", "secret_hint", "updated_at"]
    list_select_related = ["corp"]

    @admin.display(description=_("secret"))
    def secret_hint(self, app: WeComApp) -> str:
        return app.secret_hint
