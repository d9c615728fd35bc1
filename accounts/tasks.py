from datetime import datetime

from accounts import services
from scrm.tenant_tasks import tenant_task


@tenant_task(queue="default")
def api_key_mark_used_task(*, tenant_schema: str, api_key_id: int, used_at: str) -> bool:
    """Record when a key was last used, off the request path."""
    return services.api_key_mark_used(
        api_key_id=api_key_id, used_at=datetime.fromisoformat(used_at)
    )


@tenant_task(queue="bulk")
def audit_log_prune_task(*, tenant_schema: str, older_than_days: int = 365) -> int:
    """Daily retention of the tenant's audit log."""
    return services.audit_log_prune(older_than_days=older_than_days)


@tenant_task(queue="bulk")
def idempotency_keys_prune_task(*, tenant_schema: str) -> int:
    """Hourly: forget Idempotency-Keys past their 24 hours."""
    from scrm.api.idempotency import idempotency_keys_prune

    return idempotency_keys_prune()
