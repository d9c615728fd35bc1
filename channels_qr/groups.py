"""Channel groups (渠道分组): folders for channels, local to the platform (WeCom has no such
thing), so no WeCom call is made here."""

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.services import audit_record
from channels_qr.models import Channel, ChannelGroup

GROUP_NAME_MAX = 100


class ChannelGroupInputError(ValueError):
    """A group name that is empty, too long or taken; nothing was saved."""


def _clean_name(name: str, *, exclude_pk: int | None = None) -> str:
    text = str(name or "").strip()
    if not text:
        raise ChannelGroupInputError(_("the group name is empty"))
    if len(text) > GROUP_NAME_MAX:
        raise ChannelGroupInputError(
            _("group names are at most %(n)d characters") % {"n": GROUP_NAME_MAX}
        )
    taken = ChannelGroup.objects.filter(name=text)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ChannelGroupInputError(_("a group named “%(name)s” exists") % {"name": text})
    return text


@transaction.atomic
def channel_group_create(*, name: str, actor: Any, order: int = 0) -> ChannelGroup:
    group = ChannelGroup.objects.create(name=_clean_name(name), order=order)
    audit_record(action="channels.group_created", actor=actor, target=group)
    return group


@transaction.atomic
def channel_group_rename(*, group: ChannelGroup, name: str, actor: Any) -> ChannelGroup:
    before = group.name
    group.name = _clean_name(name, exclude_pk=group.pk)
    group.save(update_fields=["name"])
    audit_record(
        action="channels.group_renamed",
        actor=actor,
        target=group,
        detail={"before": before, "after": group.name},
    )
    return group


@transaction.atomic
def channel_group_delete(*, group: ChannelGroup, actor: Any) -> int:
    """Delete the group; its channels stay, ungrouped. Returns how many channels it held."""
    held = Channel.objects.filter(group=group).update(group=None)
    audit_record(
        action="channels.group_deleted",
        actor=actor,
        target=group,
        detail={"name": group.name, "channels": held},
    )
    group.delete()
    return held
