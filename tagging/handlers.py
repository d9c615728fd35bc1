"""Callback handlers of the tag catalogue."""

from scrm.wecom.events.registry import callback_handler
from scrm.wecom.models import CallbackEvent
from tagging.services import tags_pull


@callback_handler(event="change_external_tag", order=50, name="tagging.catalogue_changed")
def on_change_external_tag(event: CallbackEvent) -> None:
    """create / update / delete / shuffle of a tag or group in WeCom: re-read the catalogue
    (one call for up to 3,000 tags), which also settles events arriving out of order."""
    tags_pull()
