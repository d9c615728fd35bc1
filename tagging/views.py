"""Console pages of the tag catalogue, and marking tags on a customer's relation.

Every edit goes through tagging.services (WeCom first). What an operator can get wrong, a
name WeCom would refuse or WeCom refusing, comes back as a message on the page, never a 500.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.permissions import role_required
from contacts.selectors import relation_list
from scrm.wecom.client import WeComNotConnected
from scrm.wecom.errors import WeComError, WeComRateLimited
from tagging.forms import GroupCreateForm, RelationTagsForm, RenameForm, TagsAddForm
from tagging.models import Tag, TagChange, TagGroup
from tagging.selectors import (
    tag_change_list,
    tag_customer_count,
    tag_customer_counts,
    tag_get,
    tag_group_get,
    tag_group_list,
    tags_by_ids,
)
from tagging.services import (
    TagInputError,
    relation_tags_change,
    tag_delete,
    tag_rename,
    tags_add,
    tags_pull,
)

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
CAN_WRITE = (User.Role.ADMIN, User.Role.OPERATOR)
CHANGES_SHOWN = 30

# "Created" alone is already translated as a column header ("创建时间"): say what changed.
CHANGE_LABELS: dict[tuple[str, bool], Promise] = {
    (TagChange.Kind.CREATED, False): gettext_lazy("Tag created"),
    (TagChange.Kind.CREATED, True): gettext_lazy("Group created"),
    (TagChange.Kind.RENAMED, False): gettext_lazy("Tag renamed"),
    (TagChange.Kind.RENAMED, True): gettext_lazy("Group renamed"),
    (TagChange.Kind.REORDERED, False): gettext_lazy("Tag reordered"),
    (TagChange.Kind.REORDERED, True): gettext_lazy("Group reordered"),
    (TagChange.Kind.MOVED, False): gettext_lazy("Tag moved to another group"),
    (TagChange.Kind.MOVED, True): gettext_lazy("Tag moved to another group"),
    (TagChange.Kind.DELETED, False): gettext_lazy("Tag deleted"),
    (TagChange.Kind.DELETED, True): gettext_lazy("Group deleted"),
}

EditError = (TagInputError, WeComError, WeComNotConnected)


def failure_message(exc: Exception) -> str:
    """What the operator reads when an edit was refused; nothing was saved in any case."""
    if isinstance(exc, TagInputError):
        return _("Nothing was changed: %(reason)s") % {"reason": exc}
    if isinstance(exc, WeComNotConnected):
        return _("This brand is not connected to WeCom: nothing was changed.")
    if isinstance(exc, WeComRateLimited):
        return _(
            "Too many WeCom calls right now: nothing was changed. Try again in %(seconds)d s."
        ) % {"seconds": max(1, round(exc.retry_after))}
    if isinstance(exc, WeComError) and exc.errcode is not None:
        return _(
            "WeCom refused the change (errcode %(errcode)s: %(meaning)s): nothing was changed."
        ) % {"errcode": exc.errcode, "meaning": exc.meaning or exc.errmsg or "—"}
    return _("WeCom could not be reached: nothing was changed. Try again later.")


@dataclass
class GroupRow:
    group: TagGroup
    tags: list[tuple[Tag, int]]
    add_form: TagsAddForm


@dataclass
class ChangeRow:
    change: TagChange
    label: str


def _can_write(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in CAN_WRITE


def _list_url(anchor: str = "") -> str:
    url = reverse("tagging:tags")
    return f"{url}#{anchor}" if anchor else url


def _tags_page(
    request: HttpRequest,
    *,
    create_form: GroupCreateForm | None = None,
    failed_add: tuple[str, TagsAddForm] | None = None,
) -> HttpResponse:
    counts = tag_customer_counts()
    rows = []
    for group in tag_group_list():
        add_form = TagsAddForm(auto_id=f"id_group_{group.pk}_%s")
        if failed_add is not None and failed_add[0] == group.group_id:
            add_form = failed_add[1]
        tags = [(tag, counts.get(tag.tag_id, 0)) for tag in group.tags.all()]
        rows.append(GroupRow(group=group, tags=tags, add_form=add_form))
    changes = [
        ChangeRow(change=change, label=str(CHANGE_LABELS.get((change.kind, change.is_group), "")))
        for change in tag_change_list(limit=CHANGES_SHOWN)
    ]
    return render(
        request,
        "tagging/tags.html",
        {
            "groups": rows,
            "tag_total": sum(len(row.tags) for row in rows),
            "changes": changes,
            "create_form": create_form or GroupCreateForm(),
            "can_write": _can_write(request),
            "active_nav": "tags",
        },
    )


def _group_or_404(group_id: str) -> TagGroup:
    try:
        return tag_group_get(group_id=group_id)
    except ObjectDoesNotExist:
        raise Http404 from None


def _tag_or_404(tag_id: str) -> Tag:
    try:
        return tag_get(tag_id=tag_id)
    except ObjectDoesNotExist:
        raise Http404 from None


# --- the catalogue ------------------------------------------------------------------------


@role_required(*ANY_ROLE)
def tags(request: HttpRequest) -> HttpResponse:
    """Groups and tags with customer counts, the forms to edit them, recent changes."""
    return _tags_page(request)


@require_POST
@role_required(*CAN_WRITE)
def group_create(request: HttpRequest) -> HttpResponse:
    form = GroupCreateForm(request.POST)
    if not form.is_valid():
        return _tags_page(request, create_form=form)
    try:
        created = tags_add(
            group_name=form.cleaned_data["group_name"],
            names=form.cleaned_data["tags"],
            actor=request.user,
            source=TagChange.Source.CONSOLE,
        )
    except EditError as exc:
        messages.error(request, failure_message(exc))
        return _tags_page(request, create_form=form)
    group = created[0].group
    messages.success(
        request,
        _("Tag group “%(group)s” created in WeCom with %(count)d tags.")
        % {"group": group.name, "count": len(created)},
    )
    return redirect(_list_url(f"group-{group.group_id}"))


@require_POST
@role_required(*CAN_WRITE)
def group_tags_add(request: HttpRequest, group_id: str) -> HttpResponse:
    group = _group_or_404(group_id)
    form = TagsAddForm(request.POST, auto_id=f"id_group_{group.pk}_%s")
    if form.is_valid():
        try:
            added = tags_add(
                group=group,
                names=form.cleaned_data["tags"],
                actor=request.user,
                source=TagChange.Source.CONSOLE,
            )
        except EditError as exc:
            messages.error(request, failure_message(exc))
        else:
            messages.success(
                request,
                _("Added to “%(group)s” in WeCom: %(tags)s.")
                % {"group": group.name, "tags": "、".join(tag.name for tag in added)},
            )
            return redirect(_list_url(f"group-{group.group_id}"))
    return _tags_page(request, failed_add=(group.group_id, form))


def _rename(request: HttpRequest, item: Tag | TagGroup) -> HttpResponse:
    form = RenameForm(request.POST or None, initial={"name": item.name})
    if request.method == "POST" and form.is_valid():
        before = item.name
        try:
            tag_rename(
                item=item,
                name=form.cleaned_data["name"],
                actor=request.user,
                source=TagChange.Source.CONSOLE,
            )
        except EditError as exc:
            messages.error(request, failure_message(exc))
        else:
            messages.success(
                request,
                _("Renamed “%(before)s” to “%(after)s” in WeCom.")
                % {"before": before, "after": item.name},
            )
            group_id = item.group.group_id if isinstance(item, Tag) else item.group_id
            return redirect(_list_url(f"group-{group_id}"))
    return render(
        request,
        "tagging/rename.html",
        {
            "item": item,
            "is_group": isinstance(item, TagGroup),
            "form": form,
            "active_nav": "tags",
        },
    )


def _delete(request: HttpRequest, item: Tag | TagGroup) -> HttpResponse:
    is_group = isinstance(item, TagGroup)
    if request.method == "POST":
        name = item.name
        group_id = item.group.group_id if isinstance(item, Tag) else item.group_id
        try:
            tag_delete(item=item, actor=request.user, source=TagChange.Source.CONSOLE)
        except EditError as exc:
            messages.error(request, failure_message(exc))
            return redirect(_list_url(f"group-{group_id}"))
        if is_group:
            messages.success(request, _("Tag group “%(name)s” deleted.") % {"name": name})
            return redirect(_list_url())
        messages.success(request, _("Tag “%(name)s” deleted.") % {"name": name})
        return redirect(_list_url(f"group-{group_id}"))
    if isinstance(item, TagGroup):
        tag_names = [tag.name for tag in item.tags.all()]
        tag_ids = [tag.tag_id for tag in item.tags.all()]
    else:
        tag_names, tag_ids = [item.name], [item.tag_id]
    return render(
        request,
        "tagging/delete.html",
        {
            "item": item,
            "is_group": is_group,
            "tag_names": tag_names,
            "customer_count": tag_customer_count(tag_ids=tag_ids),
            "active_nav": "tags",
        },
    )


@role_required(*CAN_WRITE)
def group_rename(request: HttpRequest, group_id: str) -> HttpResponse:
    return _rename(request, _group_or_404(group_id))


@role_required(*CAN_WRITE)
def group_delete(request: HttpRequest, group_id: str) -> HttpResponse:
    """GET: the confirmation, with how many customers carry the group's tags; POST: delete."""
    return _delete(request, _group_or_404(group_id))


@role_required(*CAN_WRITE)
def tag_rename_view(request: HttpRequest, tag_id: str) -> HttpResponse:
    return _rename(request, _tag_or_404(tag_id))


@role_required(*CAN_WRITE)
def tag_delete_view(request: HttpRequest, tag_id: str) -> HttpResponse:
    """GET: the confirmation, with how many customers carry the tag; POST: delete."""
    return _delete(request, _tag_or_404(tag_id))


@require_POST
@role_required(*CAN_WRITE)
def pull(request: HttpRequest) -> HttpResponse:
    """Re-read WeCom's catalogue now (it is also pulled hourly and on WeCom's callbacks)."""
    try:
        result = tags_pull()
    except EditError as exc:
        messages.error(request, failure_message(exc))
    else:
        if result.changes:
            messages.success(
                request,
                _(
                    "Pulled from WeCom: %(created)d created, %(updated)d changed, "
                    "%(deleted)d deleted."
                )
                % {"created": result.created, "updated": result.updated, "deleted": result.deleted},
            )
        else:
            messages.success(request, _("Pulled from WeCom: the tags were already up to date."))
    return redirect(_list_url())


# --- tags on a customer -------------------------------------------------------------------


def _tag_label(tag_id: str) -> str:
    tag = tags_by_ids([tag_id]).get(tag_id)
    return tag.name if tag is not None else tag_id


@require_POST
@role_required(*CAN_WRITE)
def relation_tags(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a tag to, or remove one from, one guide's relation with a customer (WeCom first),
    then back to the customer's page."""
    relation = relation_list().filter(pk=pk).first()
    if relation is None:
        raise Http404
    back = reverse("contacts:customer", args=[relation.customer_id]) + f"#relation-{relation.pk}"
    form = RelationTagsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a tag to add or remove."))
        return redirect(back)
    add, remove = form.cleaned_data["add"], form.cleaned_data["remove"]
    try:
        relation_tags_change(
            relation=relation,
            actor=request.user,
            add=[add] if add else [],
            remove=[remove] if remove else [],
        )
    except EditError as exc:
        messages.error(request, failure_message(exc))
        return redirect(back)
    guide = relation.guide.name or relation.guide.userid
    if add:
        messages.success(
            request,
            _("Tagged “%(tag)s” on %(guide)s's relation, in WeCom.")
            % {"tag": _tag_label(add), "guide": guide},
        )
    if remove:
        messages.success(
            request,
            _("Removed “%(tag)s” from %(guide)s's relation, in WeCom.")
            % {"tag": _tag_label(remove), "guide": guide},
        )
    return redirect(back)
