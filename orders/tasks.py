"""Background work of orders: CSV imports and the re-match of unmatched rows."""

from orders import imports, services
from scrm.tenant_tasks import enqueue, tenant_task


@tenant_task(queue="bulk")
def order_import_run_task(*, tenant_schema: str, import_id: int) -> bool:
    """Import one uploaded CSV (resumable; a second delivery finds the job claimed)."""
    return imports.order_import_run(import_id=import_id)


@tenant_task(queue="bulk")
def order_imports_resume_task(*, tenant_schema: str) -> int:
    """Periodic: restart imports whose worker died (lease over) or whose task was lost."""
    job_ids = imports.order_imports_resume()
    for job_id in job_ids:
        enqueue(order_import_run_task, import_id=job_id, tenant_schema=tenant_schema)
    return len(job_ids)


@tenant_task(queue="default")
def orders_rematch_recent_task(*, tenant_schema: str) -> int:
    """Periodic: match waiting orders and events to customers added or given a remark phone
    since the last run."""
    return services.rematch_recent()


@tenant_task(queue="bulk")
def orders_rematch_all_task(*, tenant_schema: str) -> int:
    """Nightly: try every unmatched order and event again."""
    return services.rematch_all()
