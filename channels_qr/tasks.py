"""Background work of channels."""

from scrm.tenant_tasks import tenant_task


@tenant_task(queue="default")
def live_codes_sync_task(*, tenant_schema: str) -> int:
    """Every minute: member lists follow working hours, dates and the new day's caps."""
    from channels_qr.strategies import live_codes_sync

    return live_codes_sync()
