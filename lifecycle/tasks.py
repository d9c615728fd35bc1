"""Lifecycle tasks: thin wrappers around lifecycle.stages."""

import logging

from lifecycle.stages import customer_stages_recompute
from scrm.tenant_tasks import tenant_task

logger = logging.getLogger(__name__)


@tenant_task(queue="bulk")
def customer_stages_recompute_task(*, tenant_schema: str) -> dict[str, int]:
    """Every customer's stage and today's counts (beat: hourly; and after the rules change)."""
    result = customer_stages_recompute()
    logger.info(
        "lifecycle stages of %s: %d changed in %.1f s",
        tenant_schema,
        result.changed,
        result.seconds,
    )
    return result.counts
