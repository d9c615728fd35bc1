"""Background work of the contact book."""

from scrm.tenant_tasks import tenant_task


@tenant_task(queue="bulk")
def contacts_sync_task(*, tenant_schema: str, sync_run_id: int) -> str:
    """Run (or resume) a full sync with WeCom until it finishes or fails."""
    from contacts.sync import sync_run

    return sync_run(sync_run_id=sync_run_id)
