"""Attribution: after the welcome, the add's State names its channel; the relation records
it, gets the channel's tags (in WeCom), and the channel's member list is re-planned (caps
and weights move with every add)."""

from django.utils import timezone

from channels_qr.models import Channel, LiveCode
from channels_qr.strategies import live_codes_sync
from contacts.models import Relation
from scrm.wecom.client import WeComClient
from tagging.models import Tag
from tagging.services import relation_tags_change


def relation_attribute(
    *, userid: str, external_userid: str, state: str, client: WeComClient | None = None
) -> Relation | None:
    """Attribute the relation to the channel whose live code has `state`; a state no live
    code has is kept on the relation and flagged. Idempotent."""
    relation = (
        Relation.objects.filter(guide__userid=userid, customer__external_userid=external_userid)
        .select_related("guide", "customer")
        .first()
    )
    if relation is None or not state:
        return relation
    code = LiveCode.objects.select_related("channel").filter(state=state).first()
    if code is None:
        if not relation.state_unknown:
            Relation.objects.filter(pk=relation.pk).update(state_unknown=True)
            relation.state_unknown = True
        return relation
    channel = code.channel
    if relation.channel_id != channel.pk:
        Relation.objects.filter(pk=relation.pk).update(
            channel=channel, state_unknown=False, updated_at=timezone.now()
        )
        relation.channel_id = channel.pk
    # A tag deleted since the channel was saved is skipped.
    known = set(Tag.objects.filter(tag_id__in=channel.tag_ids).values_list("tag_id", flat=True))
    missing = [t for t in channel.tag_ids if t in known and t not in relation.wecom_tag_ids]
    if missing and relation.status == Relation.Status.ACTIVE:
        relation_tags_change(
            relation=relation, actor=f"channel: {channel.name}", add=missing, client=client
        )
    # Caps and weights move with every add; other lists only with time (the beat).
    if (
        channel.strategy == Channel.Strategy.WEIGHTED
        or channel.guides.filter(daily_cap__isnull=False).exists()
    ):
        live_codes_sync(channel_ids=[channel.pk], client=client)
    return relation
