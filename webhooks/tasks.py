"""Background work of webhooks, on their own `webhooks` queue so that slow receivers never
delay WeCom work: one task per delivery attempt, the periodic re-queue of due and lost
deliveries, and retention."""

from scrm.tenant_tasks import tenant_task


@tenant_task(queue="webhooks")
def webhook_delivery_send_task(*, tenant_schema: str, delivery_id: int) -> str:
    """One attempt of a delivery; a retry due soon is queued again with its countdown (later
    ones are queued by `webhook_deliveries_requeue_task` when due)."""
    from webhooks.delivery import delivery_send

    sent = delivery_send(delivery_id=delivery_id)
    if sent.retry_in is not None:
        webhook_delivery_send_task.apply_async(
            kwargs={"tenant_schema": tenant_schema, "delivery_id": delivery_id},
            countdown=sent.retry_in,
        )
    return sent.status


@tenant_task(queue="webhooks")
def webhook_deliveries_queue_task(*, tenant_schema: str, delivery_ids: list[int]) -> int:
    """Many deliveries emitted at once (a handover's transfers): one task each, queued here
    rather than by the code that emitted them."""
    from scrm.tenant_tasks import enqueue

    for delivery_id in delivery_ids:
        enqueue(webhook_delivery_send_task, delivery_id=delivery_id)
    return len(delivery_ids)


@tenant_task(queue="default")
def webhook_deliveries_requeue_task(*, tenant_schema: str) -> int:
    """Periodic (every minute): retries that are due, and deliveries whose worker died."""
    from webhooks.services import deliveries_requeue

    return deliveries_requeue()


@tenant_task(queue="bulk")
def webhook_events_prune_task(*, tenant_schema: str) -> int:
    """Periodic (daily): events past WEBHOOK_RETENTION_DAYS, with their deliveries and log."""
    from webhooks.services import events_prune

    return events_prune()
