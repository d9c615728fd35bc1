"""The tag catalogue, kept equal to WeCom's corp tags in both directions.

Edits made here go to WeCom first and are saved with WeCom's ids; edits made in WeCom reach
us through `change_external_tag` callbacks (and the periodic pull), which re-read the whole
catalogue: at most 3,000 tags, one call. When both sides changed a tag, WeCom's state wins;
every difference a pull finds is recorded as a `TagChange` from WeCom.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from contacts.upserts import from_epoch
from scrm.wecom.client import WeComClient, wecom_client
from tagging.models import NAME_MAX, TAGS_PER_CORP, Tag, TagChange, TagGroup
from webhooks.emit import emit_customer_tagged


class TagInputError(ValueError):
    """A tag edit WeCom would refuse (or that makes no sense); nothing was sent."""


@dataclass
class PullResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    changes: list[TagChange] = field(default_factory=list)


def _client() -> WeComClient:
    return wecom_client(app_kind="customer_contact")


def actor_label(actor: Any) -> str:
    if actor is None:
        return ""
    return str(getattr(actor, "get_username", lambda: actor)())


def clean_name(name: Any) -> str:
    text = str(name or "").strip()
    if not text:
        raise TagInputError(_("the name is empty"))
    if len(text) > NAME_MAX:
        raise TagInputError(_("names are at most %(n)d characters") % {"n": NAME_MAX})
    return text


def relations_untag(tag_ids: list[str]) -> int:
    """WeCom removes deleted tags from every customer: so do we."""
    if not tag_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE contacts_relation
            SET wecom_tag_ids = ARRAY(
                SELECT t FROM unnest(wecom_tag_ids) AS t WHERE t <> ALL(%s::varchar[]) ORDER BY t
            )
            WHERE wecom_tag_ids && %s::varchar[]
            """,
            [tag_ids, tag_ids],
        )
        return cursor.rowcount


def tags_pull(*, client: WeComClient | None = None) -> PullResult:
    """Make the catalogue equal WeCom's, recording each difference as a change from WeCom."""
    groups = (client or _client()).post("externalcontact/get_corp_tag_list", data={})
    result = PullResult()
    now = timezone.now()
    with transaction.atomic():
        known_groups = {g.group_id: g for g in TagGroup.objects.select_for_update()}
        known_tags = {t.tag_id: t for t in Tag.objects.select_for_update()}
        seen_groups: set[str] = set()
        seen_tags: set[str] = set()

        def change(
            kind: str, *, is_group: bool, wecom_id: str, name: str, before: str = ""
        ) -> None:
            result.changes.append(
                TagChange(
                    kind=kind,
                    source=TagChange.Source.WECOM,
                    is_group=is_group,
                    wecom_id=wecom_id,
                    name=name,
                    before=before,
                    at=now,
                )
            )

        for data in groups.get("tag_group") or []:
            if data.get("deleted"):
                continue
            group_id = str(data["group_id"])
            seen_groups.add(group_id)
            name = str(data.get("group_name") or "")[:NAME_MAX]
            order = int(data.get("order") or 0)
            group = known_groups.get(group_id)
            if group is None:
                group = TagGroup.objects.create(
                    group_id=group_id,
                    name=name,
                    order=order,
                    created_at=from_epoch(data.get("create_time"), default=now),
                    synced_at=now,
                )
                result.created += 1
                change(TagChange.Kind.CREATED, is_group=True, wecom_id=group_id, name=name)
            elif (group.name, group.order) != (name, order):
                if group.name != name:
                    change(
                        TagChange.Kind.RENAMED,
                        is_group=True,
                        wecom_id=group_id,
                        name=name,
                        before=group.name,
                    )
                else:
                    change(TagChange.Kind.REORDERED, is_group=True, wecom_id=group_id, name=name)
                group.name, group.order, group.synced_at = name, order, now
                group.save(update_fields=["name", "order", "synced_at"])
                result.updated += 1
            for tag_data in data.get("tag") or []:
                if tag_data.get("deleted"):
                    continue
                tag_id = str(tag_data["id"])
                seen_tags.add(tag_id)
                tag_name = str(tag_data.get("name") or "")[:NAME_MAX]
                tag_order = int(tag_data.get("order") or 0)
                tag = known_tags.get(tag_id)
                if tag is None:
                    Tag.objects.create(
                        tag_id=tag_id,
                        group=group,
                        name=tag_name,
                        order=tag_order,
                        created_at=from_epoch(tag_data.get("create_time"), default=now),
                        synced_at=now,
                    )
                    result.created += 1
                    change(TagChange.Kind.CREATED, is_group=False, wecom_id=tag_id, name=tag_name)
                    continue
                if (tag.name, tag.order, tag.group_id) == (tag_name, tag_order, group.pk):
                    continue
                if tag.name != tag_name:
                    kind = TagChange.Kind.RENAMED
                elif tag.group_id != group.pk:
                    kind = TagChange.Kind.MOVED
                else:
                    kind = TagChange.Kind.REORDERED
                change(kind, is_group=False, wecom_id=tag_id, name=tag_name, before=tag.name)
                tag.name, tag.order, tag.group, tag.synced_at = tag_name, tag_order, group, now
                tag.save(update_fields=["name", "order", "group", "synced_at"])
                result.updated += 1

        gone_tags = [t for tag_id, t in known_tags.items() if tag_id not in seen_tags]
        gone_groups = [g for group_id, g in known_groups.items() if group_id not in seen_groups]
        for tag in gone_tags:
            change(TagChange.Kind.DELETED, is_group=False, wecom_id=tag.tag_id, name=tag.name)
        for group in gone_groups:
            change(TagChange.Kind.DELETED, is_group=True, wecom_id=group.group_id, name=group.name)
        Tag.objects.filter(pk__in=[t.pk for t in gone_tags]).delete()
        TagGroup.objects.filter(pk__in=[g.pk for g in gone_groups]).delete()
        relations_untag([t.tag_id for t in gone_tags])
        result.deleted = len(gone_tags) + len(gone_groups)
        TagChange.objects.bulk_create(result.changes)
    return result


def _record(
    kind: str,
    *,
    source: str,
    actor: Any,
    is_group: bool,
    wecom_id: str,
    name: str,
    before: str = "",
) -> None:
    TagChange.objects.create(
        kind=kind,
        source=source,
        is_group=is_group,
        wecom_id=wecom_id,
        name=name,
        before=before,
        actor_label=actor_label(actor),
    )


def tags_add(
    *,
    names: list[str],
    actor: Any,
    group: TagGroup | None = None,
    group_name: str = "",
    source: str = TagChange.Source.CONSOLE,
) -> list[Tag]:
    """Add tags to a group (a new group when `group_name` is given): WeCom first, then here
    with WeCom's ids. Raises TagInputError (nothing sent) or WeComError (nothing saved)."""
    cleaned = list(dict.fromkeys(clean_name(n) for n in names))
    if not cleaned:
        raise TagInputError(_("give at least one tag name"))
    if group is None:
        group_name = clean_name(group_name)
        if TagGroup.objects.filter(name=group_name).exists():
            raise TagInputError(_("a tag group named “%(name)s” exists") % {"name": group_name})
    else:
        taken = set(group.tags.filter(name__in=cleaned).values_list("name", flat=True))
        if taken:
            raise TagInputError(
                _("already in this group: %(names)s") % {"names": ", ".join(sorted(taken))}
            )
    if Tag.objects.count() + len(cleaned) > TAGS_PER_CORP:
        raise TagInputError(_("WeCom allows %(n)d corp tags per corp") % {"n": TAGS_PER_CORP})
    body: dict[str, Any] = {"tag": [{"name": n} for n in cleaned]}
    if group is None:
        body["group_name"] = group_name
    else:
        body["group_id"] = group.group_id
    answer = _client().post("externalcontact/add_corp_tag", data=body)["tag_group"]
    now = timezone.now()
    with transaction.atomic():
        if group is None:
            group, created = TagGroup.objects.get_or_create(
                group_id=str(answer["group_id"]),
                defaults={
                    "name": str(answer.get("group_name") or group_name),
                    "order": int(answer.get("order") or 0),
                    "created_at": from_epoch(answer.get("create_time"), default=now),
                },
            )
            if created:
                _record(
                    TagChange.Kind.CREATED,
                    source=source,
                    actor=actor,
                    is_group=True,
                    wecom_id=group.group_id,
                    name=group.name,
                )
        tags = []
        for data in answer.get("tag") or []:
            tag, created = Tag.objects.get_or_create(
                tag_id=str(data["id"]),
                defaults={
                    "group": group,
                    "name": str(data.get("name") or ""),
                    "order": int(data.get("order") or 0),
                    "created_at": from_epoch(data.get("create_time"), default=now),
                },
            )
            if created:
                _record(
                    TagChange.Kind.CREATED,
                    source=source,
                    actor=actor,
                    is_group=False,
                    wecom_id=tag.tag_id,
                    name=tag.name,
                )
            tags.append(tag)
        audit_record(action="tags.created", actor=actor, target=group, detail={"tags": cleaned})
    return tags


def tag_rename(
    *, item: Tag | TagGroup, name: str, actor: Any, source: str = TagChange.Source.CONSOLE
) -> Tag | TagGroup:
    """Rename a tag or a group in WeCom, then here."""
    new_name = clean_name(name)
    if new_name == item.name:
        return item
    wecom_id = item.tag_id if isinstance(item, Tag) else item.group_id
    siblings = (
        Tag.objects.filter(group_id=item.group_id)
        if isinstance(item, Tag)
        else TagGroup.objects.all()
    )
    if siblings.filter(name=new_name).exclude(pk=item.pk).exists():
        raise TagInputError(_("“%(name)s” is taken") % {"name": new_name})
    _client().post("externalcontact/edit_corp_tag", data={"id": wecom_id, "name": new_name})
    with transaction.atomic():
        before = item.name
        item.name = new_name
        item.synced_at = timezone.now()
        item.save(update_fields=["name", "synced_at"])
        _record(
            TagChange.Kind.RENAMED,
            source=source,
            actor=actor,
            is_group=isinstance(item, TagGroup),
            wecom_id=wecom_id,
            name=new_name,
            before=before,
        )
        audit_record(action="tags.renamed", actor=actor, target=item, detail={"before": before})
    return item


def tag_delete(*, item: Tag | TagGroup, actor: Any, source: str = TagChange.Source.CONSOLE) -> None:
    """Delete a tag or a whole group in WeCom, then here (and from every customer). WeCom
    drops a group whose last tag goes: so do we."""
    is_group = isinstance(item, TagGroup)
    if isinstance(item, TagGroup):
        body: dict[str, list[str]] = {"group_id": [item.group_id]}
        tag_ids = list(item.tags.values_list("tag_id", flat=True))
        wecom_id = item.group_id
    else:
        body = {"tag_id": [item.tag_id]}
        tag_ids = [item.tag_id]
        wecom_id = item.tag_id
    _client().post("externalcontact/del_corp_tag", data=body)
    with transaction.atomic():
        name = item.name
        item.delete()
        relations_untag(tag_ids)
        _record(
            TagChange.Kind.DELETED,
            source=source,
            actor=actor,
            is_group=is_group,
            wecom_id=wecom_id,
            name=name,
        )
        audit_record(action="tags.deleted", actor=actor, detail={"name": name, "id": wecom_id})
        if isinstance(item, Tag):
            emptied = TagGroup.objects.filter(pk=item.group_id, tags__isnull=True).first()
            if emptied is not None:
                emptied.delete()
                _record(
                    TagChange.Kind.DELETED,
                    source=source,
                    actor=actor,
                    is_group=True,
                    wecom_id=emptied.group_id,
                    name=emptied.name,
                )


def tags_check(tag_ids: list[str]) -> list[str]:
    """The ids sorted and de-duplicated; TagInputError when one is not in the catalogue."""
    wanted = sorted(set(tag_ids))
    known = set(Tag.objects.filter(tag_id__in=wanted).values_list("tag_id", flat=True))
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise TagInputError(_("unknown tags: %(ids)s") % {"ids": ", ".join(unknown)})
    return wanted


def relation_mark_in_wecom(
    *, client: WeComClient, relation: Any, add: list[str], remove: list[str]
) -> None:
    """mark_tag for one guide x customer (relation with guide and customer loaded)."""
    body: dict[str, Any] = {
        "userid": relation.guide.userid,
        "external_userid": relation.customer.external_userid,
    }
    if add:
        body["add_tag"] = add
    if remove:
        body["remove_tag"] = remove
    client.post("externalcontact/mark_tag", data=body)


def relation_tags_save(
    *, relation_id: int, add: list[str], remove: list[str], actor_label: str
) -> list[str]:
    """Record what WeCom accepted: the relation's tags and a timeline entry. Call inside a
    transaction; the relation's row is locked so concurrent marks never lose a tag."""
    from contacts.models import CustomerEvent, Relation
    from contacts.services import customer_event_record

    locked = Relation.objects.select_for_update().get(pk=relation_id)
    tags = sorted((set(locked.wecom_tag_ids) | set(add)) - set(remove))
    locked.wecom_tag_ids = tags
    locked.updated_at = timezone.now()
    locked.save(update_fields=["wecom_tag_ids", "updated_at"])
    customer_event_record(
        customer_id=locked.customer_id,
        kind=CustomerEvent.Kind.TAGGED,
        occurred_at=locked.updated_at,
        guide_id=locked.guide_id,
        data={"added": add, "removed": remove, "by": actor_label},
    )
    emit_customer_tagged(
        relation_id=locked.pk, added=add, removed=remove, at=locked.updated_at, source="platform"
    )
    return tags


def relation_tags_change(
    *,
    relation: Any,
    actor: Any,
    add: list[str] | None = None,
    remove: list[str] | None = None,
    client: WeComClient | None = None,
) -> list[str]:
    """Mark and unmark corp tags on one relation (WeCom tags per guide × customer): WeCom
    first, through the rate limiter, then here with a timeline entry. Returns the relation's
    tag ids. Raises TagInputError for unknown tags (nothing sent), WeComError when WeCom
    refuses (nothing saved)."""
    from contacts.models import Relation

    add_ids = sorted(set(add or []))
    remove_ids = sorted(set(remove or []) - set(add_ids))
    if not add_ids and not remove_ids:
        raise TagInputError(_("nothing to add or remove"))
    tags_check(add_ids)
    relation = Relation.objects.select_related("guide", "customer").get(pk=relation.pk)
    current = set(relation.wecom_tag_ids)
    to_add = [t for t in add_ids if t not in current]
    to_remove = [t for t in remove_ids if t in current]
    if not to_add and not to_remove:
        return sorted(current)
    relation_mark_in_wecom(
        client=client or _client(), relation=relation, add=to_add, remove=to_remove
    )
    with transaction.atomic():
        return relation_tags_save(
            relation_id=relation.pk, add=to_add, remove=to_remove, actor_label=actor_label(actor)
        )
