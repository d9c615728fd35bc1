"""Background work of group sends."""

from scrm.tenant_tasks import tenant_task


@tenant_task(queue="bulk")
def broadcast_plan_task(*, tenant_schema: str, broadcast_id: int) -> str:
    """Freeze a group send's audience into deliveries (re-runs from scratch if killed)."""
    from broadcast.planning import broadcast_plan

    return broadcast_plan(broadcast_id=broadcast_id).status
