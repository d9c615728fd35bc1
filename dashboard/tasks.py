"""Dashboard tasks: thin wrappers around dashboard.aggregates."""

import logging
from datetime import date

from dashboard.aggregates import RECENT_DAYS, dashboard_backfill, dashboard_refresh
from scrm.tenant_tasks import tenant_task

logger = logging.getLogger(__name__)


@tenant_task(queue="default")
def dashboard_refresh_task(*, tenant_schema: str, days: int = RECENT_DAYS) -> int:
    """The last `days` days and the days of new relations (beat: every 5 minutes with 2,
    nightly with 7). Returns the number of days rebuilt (0: another refresh was running)."""
    result = dashboard_refresh(days=days)
    if result.skipped:
        logger.info("dashboard refresh of %s skipped: another one is running", tenant_schema)
    return result.days


@tenant_task(queue="bulk")
def dashboard_backfill_task(*, tenant_schema: str, first: str = "") -> int:
    """Every day from `first` (ISO date; empty: the first relation's day) to today."""
    result = dashboard_backfill(first=date.fromisoformat(first) if first else None)
    logger.info(
        "dashboard backfill of %s: %d days in %.1f s", tenant_schema, result.days, result.seconds
    )
    return result.days
