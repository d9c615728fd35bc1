"""The sidebar's JSON endpoints, called by static/js/sidebar.js.

Every endpoint runs for the guide of the request's token (`guide_required`: 401 without
one) and checks on the server that the guide may see the customer (403 otherwise). The
token header is the credential and no cookie is read, so the POSTs are exempt from CSRF
checks: another site cannot make a browser send the header.

Phone numbers: a guide sees in full the remark phones of their own relation with the
customer (they entered them in WeCom) and the numbers in timeline entries about it; those of
a colleague's relation (a store-wide sidebar), custom event properties and other entries
come masked (138****5678), the rule of the console and the API (docs/privacy.md).
"""

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.api.serializers import mask_phones_in
from contacts.models import CustomerEvent, Guide, Relation
from contacts.privacy import mask_phone
from scrm.api.parsers import holds_nul
from scrm.wecom.client import WeComNotConnected, wecom_client
from scrm.wecom.errors import WeComError
from scrm.wecom.jssdk import jssdk_config
from scrm.wecom.media import media_id_for
from sidebar.auth import guide_required
from sidebar.models import FollowUp, Note, QuickReply
from sidebar.selectors import (
    CustomerAccess,
    customer_access,
    follow_ups_for,
    notes_for,
    quick_reply_library,
    tag_catalogue,
    timeline_page,
)
from sidebar.services import (
    SidebarInputError,
    follow_up_complete,
    follow_up_create,
    guide_label,
    note_create,
)
from tagging.services import TagInputError, relation_tags_change
from tagging.views import failure_message

JS_API_LIST = ["getCurExternalContact", "getContext", "sendChatMessage"]
WeComFailure = (WeComError, WeComNotConnected)


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _guide(request: HttpRequest) -> Guide:
    guide: Guide = request.guide  # type: ignore[attr-defined]
    return guide


def _payload(request: HttpRequest) -> dict[str, Any]:
    """The JSON body (the sidebar's fetch) or form fields."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return request.POST.dict()


def _refuses_nul(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """400 for a body holding a NUL character anywhere, which PostgreSQL cannot store."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if request.method == "POST" and holds_nul(
            _payload(request)
            if request.content_type == "application/json"
            else dict(request.POST.lists())
        ):
            return _error(_("the request may not contain NUL characters"), 400)
        return view(request, *args, **kwargs)

    return wrapped


def _access(request: HttpRequest, external_userid: str) -> CustomerAccess | JsonResponse:
    access = customer_access(guide=_guide(request), external_userid=external_userid)
    if access is None:
        return _error(_("no such customer"), 404)
    if not access.visible:
        return _error(_("this customer is not yours"), 403)
    return access


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


# --- JS-SDK -------------------------------------------------------------------------------


@require_GET
@guide_required
def jssdk_config_view(request: HttpRequest) -> JsonResponse:
    """Signed wx.config and wx.agentConfig parameters for a page of this host."""
    url = request.GET.get("url", "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != request.get_host():
        return _error(_("url must be a page of this site"), 400)
    try:
        signed = jssdk_config(
            client=wecom_client(app_kind="customer_contact"),
            url=url.split("#", 1)[0],
            js_api_list=JS_API_LIST,
        )
    except WeComFailure as exc:
        return _error(failure_message(exc), 502)
    return JsonResponse({"config": signed.config, "agentConfig": signed.agent_config})


# --- the customer -------------------------------------------------------------------------


def _card(access: CustomerAccess, guide: Guide) -> dict[str, Any]:
    customer = access.customer
    main = access.main
    return {
        "external_userid": customer.external_userid,
        "name": customer.name,
        "avatar": customer.avatar,
        "corp_name": customer.corp_name,
        "remark": main.remark if main else "",
        "description": main.description if main else "",
        "phones": _phones(main, guide) if main else [],
        "channel": main.channel.name if main and main.channel else "",
        "added_at": _iso(main.added_at) if main else None,
        "add_way": main.get_add_way_display() if main else "",
        "guides": [
            {"name": r.guide.name, "userid": r.guide.userid, "mine": r.guide_id == guide.pk}
            for r in sorted(access.relations, key=lambda r: r.guide_id != guide.pk)
        ],
    }


def _note(note: Note, guide: Guide) -> dict[str, Any]:
    return {
        "id": note.pk,
        "text": note.text,
        "author": note.author,
        "at": _iso(note.created_at),
        "mine": note.guide_id == guide.pk,
    }


def _follow_up(item: FollowUp, now: datetime) -> dict[str, Any]:
    return {
        "id": item.pk,
        "title": item.title,
        "due_at": _iso(item.due_at),
        "overdue": item.done_at is None and item.due_at < now,
        "done_at": _iso(item.done_at),
        "done_by": item.done_by,
        "created_by": item.created_by,
    }


def _phones(relation: Relation, guide: Guide) -> list[str]:
    if relation.guide_id == guide.pk:
        return list(relation.remark_mobiles)
    return [mask_phone(phone) for phone in relation.remark_mobiles]


def _event_data(event: CustomerEvent, guide: Guide) -> dict[str, Any]:
    data = event.data if isinstance(event.data, dict) else {}
    return data if event.guide_id == guide.pk else mask_phones_in(data)


def _timeline(
    customer_id: int, before: tuple[datetime, int] | None, guide: Guide
) -> dict[str, Any]:
    events, more = timeline_page(customer_id=customer_id, before=before)
    return {
        "events": [
            {
                "id": event.pk,
                "kind": event.kind,
                "label": event.get_kind_display(),
                "at": _iso(event.occurred_at),
                "guide": event.guide.name if event.guide else "",
                "data": _event_data(event, guide),
            }
            for event in events
        ],
        "next": f"{events[-1].occurred_at.isoformat()}|{events[-1].pk}" if more else None,
    }


@require_GET
@guide_required
def customer(request: HttpRequest, external_userid: str) -> JsonResponse:
    """Everything the sidebar's first page shows, in one answer and a fixed number of
    queries: the card, the tags, notes, follow-ups and the timeline's first page."""
    guide = _guide(request)
    access = _access(request, external_userid)
    if isinstance(access, JsonResponse):
        return access
    customer_id = access.customer.pk
    now = timezone.now()
    return JsonResponse(
        {
            "card": _card(access, guide),
            "tags": {
                "editable": access.own is not None,
                "marked": sorted(access.own.wecom_tag_ids) if access.own else [],
                "groups": tag_catalogue(),
            },
            "notes": [_note(n, guide) for n in notes_for(customer_id=customer_id)],
            "follow_ups": [_follow_up(f, now) for f in follow_ups_for(customer_id=customer_id)],
            "timeline": _timeline(customer_id, None, guide),
        }
    )


def _cursor(value: str) -> tuple[datetime, int] | None:
    at, _sep, pk = value.partition("|")
    try:
        return datetime.fromisoformat(at), int(pk)
    except ValueError:
        return None


@require_GET
@guide_required
def timeline(request: HttpRequest, external_userid: str) -> JsonResponse:
    """The first page of the timeline, or an older one: `?before=<a page's next>`."""
    access = _access(request, external_userid)
    if isinstance(access, JsonResponse):
        return access
    raw = request.GET.get("before", "")
    before = _cursor(raw) if raw else None
    if raw and before is None:
        return _error(_("this page of the timeline is not valid"), 400)
    return JsonResponse(_timeline(access.customer.pk, before, _guide(request)))


@csrf_exempt
@require_POST
@guide_required
@_refuses_nul
def tags(request: HttpRequest, external_userid: str) -> JsonResponse:
    """Mark or unmark tags on the guide's own relation with the customer, WeCom first."""
    guide = _guide(request)
    access = _access(request, external_userid)
    if isinstance(access, JsonResponse):
        return access
    if access.own is None:
        return _error(_("only a guide holding this customer can change their tags"), 403)
    data = _payload(request)
    add, remove = data.get("add") or [], data.get("remove") or []
    if not isinstance(add, list) or not isinstance(remove, list):
        return _error(_("add and remove are lists of tag ids"), 400)
    try:
        marked = relation_tags_change(
            relation=access.own,
            actor=guide_label(guide),
            add=[str(t) for t in add],
            remove=[str(t) for t in remove],
        )
    except TagInputError as exc:
        return _error(failure_message(exc), 400)
    except WeComFailure as exc:
        return _error(failure_message(exc), 502)
    return JsonResponse({"marked": marked})


@csrf_exempt
@require_http_methods(["GET", "POST"])
@guide_required
@_refuses_nul
def notes(request: HttpRequest, external_userid: str) -> JsonResponse:
    guide = _guide(request)
    access = _access(request, external_userid)
    if isinstance(access, JsonResponse):
        return access
    if request.method == "POST":
        try:
            note = note_create(
                customer=access.customer,
                guide=guide,
                author=guide_label(guide),
                text=_payload(request).get("text", ""),
            )
        except SidebarInputError as exc:
            return _error(str(exc), 400)
        return JsonResponse({"note": _note(note, guide)}, status=201)
    return JsonResponse(
        {"notes": [_note(n, guide) for n in notes_for(customer_id=access.customer.pk)]}
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
@guide_required
@_refuses_nul
def follow_ups(request: HttpRequest, external_userid: str) -> JsonResponse:
    guide = _guide(request)
    access = _access(request, external_userid)
    if isinstance(access, JsonResponse):
        return access
    now = timezone.now()
    if request.method == "POST":
        data = _payload(request)
        try:
            item = follow_up_create(
                customer=access.customer,
                guide=guide,
                author=guide_label(guide),
                title=data.get("title", ""),
                due=data.get("due", ""),
            )
        except SidebarInputError as exc:
            return _error(str(exc), 400)
        return JsonResponse({"follow_up": _follow_up(item, now)}, status=201)
    items = follow_ups_for(customer_id=access.customer.pk)
    return JsonResponse({"follow_ups": [_follow_up(f, now) for f in items]})


@csrf_exempt
@require_POST
@guide_required
def follow_up_done(request: HttpRequest, pk: int) -> JsonResponse:
    """Mark a follow-up done; a follow-up of a customer the guide cannot see is 404, the
    same as one that does not exist (ids say nothing about other guides' customers)."""
    guide = _guide(request)
    item = FollowUp.objects.select_related("customer").filter(pk=pk).first()
    if item is None:
        return _error(_("no such follow-up"), 404)
    access = customer_access(guide=guide, external_userid=item.customer.external_userid)
    if access is None or not access.visible:
        return _error(_("no such follow-up"), 404)
    completed = follow_up_complete(follow_up=item, by=guide_label(guide), guide=guide)
    return JsonResponse({"follow_up": _follow_up(item, timezone.now()), "completed_now": completed})


# --- quick replies ------------------------------------------------------------------------


def _reply(reply: QuickReply) -> dict[str, Any]:
    return {
        "id": reply.pk,
        "kind": reply.kind,
        "title": reply.title,
        "text": reply.text,
        "url": reply.url,
        "description": reply.description,
    }


@require_GET
@guide_required
def quick_replies(request: HttpRequest) -> JsonResponse:
    """The library: folders and their replies, as operators arranged them."""
    return JsonResponse(
        {
            "folders": [
                {
                    "id": folder.pk,
                    "name": folder.name,
                    "replies": [_reply(r) for r in folder.replies_list],  # type: ignore[attr-defined]
                }
                for folder in quick_reply_library()
            ]
        }
    )


@csrf_exempt
@require_POST
@guide_required
def quick_reply_message(request: HttpRequest, pk: int) -> JsonResponse:
    """The arguments of the JS-SDK's sendChatMessage for a reply; an image is uploaded to
    WeCom first when its media_id is missing or about to expire."""
    reply = QuickReply.objects.select_related("media").filter(pk=pk).first()
    if reply is None:
        return _error(_("this reply was removed from the library"), 404)
    message: dict[str, Any]
    if reply.kind == QuickReply.Kind.IMAGE:
        if reply.media is None:
            return _error(_("this reply's image was removed from the media library"), 409)
        try:
            media_id = media_id_for(asset=reply.media, client=wecom_client())
        except WeComFailure as exc:
            return _error(failure_message(exc), 502)
        message = {"msgtype": "image", "enterChat": True, "image": {"mediaid": media_id}}
    elif reply.kind == QuickReply.Kind.LINK:
        message = {
            "msgtype": "news",
            "enterChat": True,
            "news": {
                "link": reply.url,
                "title": reply.title,
                "desc": reply.description,
                "imgUrl": "",
            },
        }
    else:
        message = {"msgtype": "text", "enterChat": True, "text": {"content": reply.text}}
    return JsonResponse({"message": message})
