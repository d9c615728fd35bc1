"""Callback handlers of handovers (order 70: after the contact book marked the guide)."""

from django.utils import timezone

from scrm.wecom.events.registry import callback_handler
from scrm.wecom.models import CallbackEvent

ORDER = 70


@callback_handler(
    event="change_contact", change_type="delete_user", order=ORDER, name="handover.propose"
)
def on_member_deleted(event: CallbackEvent) -> None:
    from handover.services import guide_departed_propose

    guide_departed_propose(
        userid=str(event.payload.get("UserID") or ""),
        at=event.create_time or timezone.now(),
    )


@callback_handler(
    event="change_external_contact",
    change_type="transfer_fail",
    order=ORDER,
    name="handover.transfer_failed",
)
def on_transfer_fail(event: CallbackEvent) -> None:
    """A hint only: the next poll of the handovers waiting on this customer comes now."""
    from handover.models import Handover, TransferItem

    external_userid = str(event.payload.get("ExternalUserID") or "")
    handover_ids = (
        TransferItem.objects.filter(external_id=external_userid, status=TransferItem.Status.WAITING)
        .values_list("handover_id", flat=True)
        .distinct()
    )
    Handover.objects.filter(pk__in=list(handover_ids), status=Handover.Status.WAITING).update(
        next_poll_at=timezone.now()
    )
