"""Writes of the sidebar: notes and follow-ups (from a guide in the sidebar or an operator in
the console), the quick-reply library and the sidebar settings (console).

Notes and follow-ups leave an entry on the customer's timeline (kind NOTE), so the history
of what was said and done is read in one place. What a caller may change (which customer a
guide may see) is checked by the caller; these functions check the input.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from contacts.models import Customer, CustomerEvent, Guide
from contacts.services import customer_event_record
from scrm.wecom.models import MediaAsset
from sidebar.models import (
    NOTE_MAX,
    FollowUp,
    Note,
    QuickReply,
    QuickReplyFolder,
    SidebarSettings,
)

FOLLOW_UP_TITLE_MAX = 200
FOLLOW_UP_HORIZON = timedelta(days=366)
TIMELINE_EXCERPT = 200  # characters of a note kept on the timeline entry


class SidebarInputError(ValueError):
    """The input cannot be saved; the message says why, in the user's language."""


def guide_label(guide: Guide) -> str:
    return f"{guide.name} ({guide.userid})"


def _clean_text(value: Any, *, limit: int, empty: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise SidebarInputError(empty)
    if len(text) > limit:
        raise SidebarInputError(_("at most %(n)d characters") % {"n": limit})
    return text


# --- notes --------------------------------------------------------------------------------


@transaction.atomic
def note_create(*, customer: Customer, text: str, author: str, guide: Guide | None = None) -> Note:
    """A note on a customer, with a timeline entry (kind NOTE) carrying its beginning."""
    clean = _clean_text(text, limit=NOTE_MAX, empty=_("the note is empty"))
    note = Note.objects.create(customer=customer, guide=guide, author=author, text=clean)
    customer_event_record(
        customer_id=customer.pk,
        kind=CustomerEvent.Kind.NOTE,
        occurred_at=note.created_at,
        guide_id=guide.pk if guide else None,
        data={"note": clean[:TIMELINE_EXCERPT], "by": author},
        dedupe_key=f"note:{note.pk}",
    )
    return note


# --- follow-ups ---------------------------------------------------------------------------


def parse_due(value: Any) -> datetime:
    """`YYYY-MM-DD` (the end of that day, local time) or `YYYY-MM-DDTHH:MM`; from today
    up to a year ahead."""
    raw = str(value or "").strip()
    if not raw:
        raise SidebarInputError(_("choose a due date"))
    try:
        if len(raw) == 10:
            due = datetime.combine(date.fromisoformat(raw), time(23, 59))
        else:
            due = datetime.fromisoformat(raw)
    except ValueError:
        raise SidebarInputError(_("the due date is not a date")) from None
    if timezone.is_naive(due):
        due = timezone.make_aware(due)
    now = timezone.now()
    today_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if due < today_start:
        raise SidebarInputError(_("the due date is in the past"))
    if due > now + FOLLOW_UP_HORIZON:
        raise SidebarInputError(_("the due date is more than a year away"))
    return due


@transaction.atomic
def follow_up_create(
    *, customer: Customer, title: str, due: Any, author: str, guide: Guide | None = None
) -> FollowUp:
    """Something to do for the customer by a date; on the timeline as a NOTE entry."""
    clean = _clean_text(title, limit=FOLLOW_UP_TITLE_MAX, empty=_("say what to do"))
    due_at = due if isinstance(due, datetime) else parse_due(due)
    follow_up = FollowUp.objects.create(
        customer=customer, guide=guide, title=clean, due_at=due_at, created_by=author
    )
    customer_event_record(
        customer_id=customer.pk,
        kind=CustomerEvent.Kind.NOTE,
        occurred_at=follow_up.created_at,
        guide_id=guide.pk if guide else None,
        data={
            "follow_up": clean,
            "due": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M"),
            "by": author,
        },
        dedupe_key=f"follow_up:{follow_up.pk}",
    )
    return follow_up


@transaction.atomic
def follow_up_complete(*, follow_up: FollowUp, by: str, guide: Guide | None = None) -> bool:
    """Mark a follow-up done, once: a second tap (or a colleague at the same moment) finds
    it done already and changes nothing. Returns whether this call completed it."""
    now = timezone.now()
    claimed = FollowUp.objects.filter(pk=follow_up.pk, done_at__isnull=True).update(
        done_at=now, done_by=by
    )
    follow_up.refresh_from_db()
    if not claimed:
        return False
    customer_event_record(
        customer_id=follow_up.customer_id,
        kind=CustomerEvent.Kind.NOTE,
        occurred_at=now,
        guide_id=guide.pk if guide else None,
        data={"follow_up_done": follow_up.title, "by": by},
        dedupe_key=f"follow_up_done:{follow_up.pk}",
    )
    return True


# --- quick replies (console) ----------------------------------------------------------------


def _folder_name(value: Any, *, exclude: int | None = None) -> str:
    name = _clean_text(value, limit=100, empty=_("the name is empty"))
    taken = QuickReplyFolder.objects.filter(name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise SidebarInputError(_("a folder named “%(name)s” exists already") % {"name": name})
    return name


@transaction.atomic
def quick_reply_folder_create(*, name: str, actor: Any, order: int = 0) -> QuickReplyFolder:
    folder = QuickReplyFolder.objects.create(name=_folder_name(name), order=max(0, order))
    audit_record(action="sidebar.folder_created", actor=actor, detail={"name": folder.name})
    return folder


@transaction.atomic
def quick_reply_folder_update(
    *, folder: QuickReplyFolder, name: str, actor: Any, order: int | None = None
) -> QuickReplyFolder:
    folder.name = _folder_name(name, exclude=folder.pk)
    if order is not None:
        folder.order = max(0, order)
    folder.save(update_fields=["name", "order"])
    audit_record(action="sidebar.folder_updated", actor=actor, detail={"name": folder.name})
    return folder


@transaction.atomic
def quick_reply_folder_delete(*, folder: QuickReplyFolder, actor: Any) -> None:
    """The folder and the replies in it."""
    count = folder.replies.count()
    audit_record(
        action="sidebar.folder_deleted", actor=actor, detail={"name": folder.name, "replies": count}
    )
    folder.delete()


@dataclass
class QuickReplyData:
    folder: QuickReplyFolder
    kind: str
    title: str
    text: str = ""
    media: MediaAsset | None = None
    url: str = ""
    description: str = ""
    order: int = 0


def _checked(data: QuickReplyData) -> QuickReplyData:
    """What each kind needs: a text, an image from the media library, or an https link."""
    title = _clean_text(data.title, limit=100, empty=_("the title is empty"))
    text = str(data.text or "").strip()
    url = str(data.url or "").strip()
    description = str(data.description or "").strip()[:200]
    media = data.media
    if data.kind == QuickReply.Kind.TEXT:
        text = _clean_text(text, limit=2000, empty=_("a text reply needs its text"))
        media, url, description = None, "", ""
    elif data.kind == QuickReply.Kind.IMAGE:
        if media is None or media.kind != MediaAsset.Kind.IMAGE:
            raise SidebarInputError(_("an image reply needs an image from the media library"))
        text, url, description = "", "", ""
    elif data.kind == QuickReply.Kind.LINK:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise SidebarInputError(_("a link reply needs an http(s) address")) from None
        media, text = None, ""
    else:
        raise SidebarInputError(_("unknown kind of reply"))
    return QuickReplyData(
        folder=data.folder,
        kind=data.kind,
        title=title,
        text=text,
        media=media,
        url=url,
        description=description,
        order=max(0, data.order),
    )


@transaction.atomic
def quick_reply_save(
    *, data: QuickReplyData, actor: Any, reply: QuickReply | None = None
) -> QuickReply:
    """Create a quick reply, or update `reply`."""
    clean = _checked(data)
    target = reply or QuickReply()
    for name in ("folder", "kind", "title", "text", "media", "url", "description", "order"):
        setattr(target, name, getattr(clean, name))
    target.save()
    audit_record(
        action="sidebar.reply_updated" if reply else "sidebar.reply_created",
        actor=actor,
        detail={"title": target.title, "folder": target.folder.name},
    )
    return target


@transaction.atomic
def quick_reply_delete(*, reply: QuickReply, actor: Any) -> None:
    audit_record(action="sidebar.reply_deleted", actor=actor, detail={"title": reply.title})
    reply.delete()


# --- settings -----------------------------------------------------------------------------


def sidebar_settings_get() -> SidebarSettings:
    row = SidebarSettings.objects.order_by("pk").first()
    return row if row is not None else SidebarSettings.objects.create()


@transaction.atomic
def sidebar_settings_update(*, guide_scope: str, actor: Any) -> SidebarSettings:
    if guide_scope not in SidebarSettings.Scope.values:
        raise SidebarInputError(_("unknown scope"))
    row = sidebar_settings_get()
    row.guide_scope = guide_scope
    row.save(update_fields=["guide_scope"])
    audit_record(
        action="sidebar.settings_changed", actor=actor, detail={"guide_scope": guide_scope}
    )
    return row
