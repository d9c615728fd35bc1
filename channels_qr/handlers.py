"""Callback handlers of channels: the welcome first (order 0), attribution after the contact
book saved the relation (order 55), member lists re-planned when a guide leaves."""

from django.utils import timezone

from scrm.wecom.events.registry import callback_handler
from scrm.wecom.models import CallbackEvent


def _field(event: CallbackEvent, name: str) -> str:
    return str(event.payload.get(name) or "")


@callback_handler(
    event="change_external_contact",
    change_type="add_external_contact",
    order=0,
    name="channels.welcome",
)
def on_add_send_welcome(event: CallbackEvent) -> None:
    """Only what the event carries, before any fetch: WeCom's 20 s run from CreateTime."""
    from channels_qr.welcome import welcome_send

    welcome_send(
        event_id=event.pk,
        state=_field(event, "State"),
        userid=_field(event, "UserID"),
        external_userid=_field(event, "ExternalUserID"),
        welcome_code=_field(event, "WelcomeCode"),
        event_at=event.create_time or event.received_at or timezone.now(),
    )


@callback_handler(
    event="change_external_contact",
    change_type="add_external_contact",
    order=55,
    name="channels.attribute",
)
def on_add_attribute(event: CallbackEvent) -> None:
    from channels_qr.attribution import relation_attribute

    relation_attribute(
        userid=_field(event, "UserID"),
        external_userid=_field(event, "ExternalUserID"),
        state=_field(event, "State"),
    )


@callback_handler(
    event="change_contact", change_type="delete_user", order=60, name="channels.guide_left"
)
def on_member_deleted(event: CallbackEvent) -> None:
    """The contact book marked the guide departed (order 50): off every way, at once."""
    from channels_qr.strategies import channels_with_guide, live_codes_sync
    from contacts.models import Guide

    guide_id = Guide.objects.filter(userid=_field(event, "UserID")).values_list("pk", flat=True)
    for pk in guide_id[:1]:
        channel_ids = channels_with_guide(pk)
        if channel_ids:
            live_codes_sync(channel_ids=channel_ids)
