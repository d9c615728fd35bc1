from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from scrm.wecom.models import CallbackEvent


def callback_event_list(*, status: str = "") -> QuerySet[CallbackEvent]:
    events = CallbackEvent.objects.defer("raw_xml").order_by("-id")
    if status:
        events = events.filter(status=status)
    return events


def callback_event_is_stuck(event: CallbackEvent, *, after: timedelta) -> bool:
    return (
        event.status == CallbackEvent.Status.PROCESSING
        and event.claimed_at is not None
        and event.claimed_at < timezone.now() - after
    )
