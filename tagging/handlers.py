"""Callback handlers of the tag catalogue."""

from scrm.wecom.events.registry import callback_handler
from scrm.wecom.models import CallbackEvent
from tagging.services import tags_pull


@callback_handler(event="change_external_tag", order=50, name="tagging.catalogue_changed")
def on_change_external_tag(event: CallbackEvent) -> None:
    """create / update / delete / shuffle of a tag or group in WeCom: re-read the catalogue
    (one call for up to 3,000 tags), which also settles events arriving out of order."""
    tags_pull()


@callback_handler(
    event="change_external_contact",
    change_type="add_external_contact",
    order=60,
    name="tagging.auto_tag",
)
def on_add_external_contact(event: CallbackEvent) -> None:
    """After the contact book saved the new relation (order 50): the auto-tag rules."""
    from contacts.models import Relation
    from tagging.rules import rules_apply

    relation = (
        Relation.objects.filter(
            guide__userid=str(event.payload.get("UserID") or ""),
            customer__external_userid=str(event.payload.get("ExternalUserID") or ""),
        )
        .select_related("guide", "customer")
        .first()
    )
    if relation is not None:
        rules_apply(relation=relation)
