"""Background work of the tag catalogue."""

from scrm.tenant_tasks import tenant_task


@tenant_task(queue="default")
def tags_pull_task(*, tenant_schema: str) -> int:
    """Periodic: re-read WeCom's corp tags (a lost callback never leaves them stale)."""
    from tagging.services import tags_pull

    return len(tags_pull().changes)
