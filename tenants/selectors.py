from django_tenants.utils import get_public_schema_name, schema_context

from tenants.models import Tenant


def tenant_schemas_for_periodic_work() -> list[str]:
    """Schemas of tenants that are active and fully provisioned (migrations done)."""
    with schema_context(get_public_schema_name()):
        return list(
            Tenant.objects.filter(is_active=True, provisioned_at__isnull=False)
            .exclude(schema_name=get_public_schema_name())
            .order_by("id")
            .values_list("schema_name", flat=True)
        )
