from typing import Any

from scrm.tenant_tasks import tenant_task


@tenant_task(queue="bulk")
def privacy_retention_task(*, tenant_schema: str) -> dict[str, Any]:
    """Daily: the tenant's retention periods applied (privacy.retention)."""
    from dataclasses import asdict

    from privacy.retention import retention_run

    return asdict(retention_run())
