"""Writes on tenants: creation (schema + migrations), activation, WeCom corp connection."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.models import Domain, Tenant, WeComApp, WeComCorp, schema_name_validator


def tenant_create(
    *,
    name: str,
    schema_name: str,
    domain: str,
    admin_username: str = "",
    admin_password: str = "",
    actor: Any = None,
) -> Tenant:
    """Create a tenant: its schema (migrations run now), primary domain, first operator.

    Runs in the public schema. The schema exists and is migrated when this returns; the
    tenant is marked provisioned only then, so periodic work never reaches a half-built one.
    """
    from accounts.services import audit_record, operator_create

    schema_name_validator(schema_name)
    with schema_context(get_public_schema_name()):
        tenant = Tenant(name=name, schema_name=schema_name)
        tenant.full_clean()
        tenant.save(verbosity=0)  # creates and migrates the schema
        Domain.objects.create(tenant=tenant, domain=domain.lower(), is_primary=True)
        tenant.provisioned_at = timezone.now()
        tenant.save(update_fields=["provisioned_at"])
        audit_record(
            action="tenant.created",
            actor=actor,
            target=tenant,
            detail={"schema": schema_name, "domain": domain},
        )
    if admin_username:
        with schema_context(schema_name):
            operator_create(username=admin_username, password=admin_password, role="admin")
    return tenant


def tenant_provisioned(*, tenant: Tenant) -> Tenant:
    """Mark a tenant whose schema was created outside tenant_create (e.g. the admin form)."""
    if tenant.provisioned_at is None:
        tenant.provisioned_at = timezone.now()
        tenant.save(update_fields=["provisioned_at"])
    return tenant


@transaction.atomic
def tenant_set_active(*, tenant: Tenant, active: bool, actor: Any = None) -> Tenant:
    """Activate or deactivate: a deactivated tenant's hosts answer 403 and its tasks skip."""
    from accounts.services import audit_record

    if tenant.schema_name == get_public_schema_name():
        raise ValueError("the public tenant cannot be deactivated")
    if tenant.is_active != active:
        tenant.is_active = active
        tenant.save(update_fields=["is_active"])
        audit_record(
            action="tenant.activated" if active else "tenant.deactivated",
            actor=actor,
            target=tenant,
        )
    return tenant


@transaction.atomic
def wecom_corp_connect(
    *, tenant: Tenant, corp_id: str, api_base_url: str | None = None, actor: Any = None
) -> WeComCorp:
    """Create or update the tenant's WeCom corp connection."""
    from accounts.services import audit_record

    corp = WeComCorp.objects.filter(tenant=tenant).first() or WeComCorp(tenant=tenant)
    corp.corp_id = corp_id
    if api_base_url:
        corp.api_base_url = api_base_url
    corp.full_clean()
    corp.save()
    audit_record(action="wecom.corp_connected", actor=actor, target=corp)
    return corp


@transaction.atomic
def wecom_app_save(
    *,
    corp: WeComCorp,
    kind: str,
    secret: str,
    agent_id: int | None = None,
    callback_token: str = "",
    encoding_aes_key: str = "",
    actor: Any = None,
) -> WeComApp:
    """Create or update one app's credentials (stored encrypted)."""
    from accounts.services import audit_record

    app = WeComApp.objects.filter(corp=corp, kind=kind).first() or WeComApp(corp=corp, kind=kind)
    app.agent_id = agent_id
    app.secret = secret
    app.callback_token = callback_token
    app.encoding_aes_key = encoding_aes_key
    app.full_clean()
    app.save()
    audit_record(action="wecom.app_saved", actor=actor, target=app, detail={"kind": kind})
    return app
