"""Console pages of the sidebar (operators): the quick-reply library guides send from, and
the sidebar settings with what to enter in WeCom to add the sidebar.

Every role reads these pages; admins and operators edit the library; admins change the
settings (who a guide sees). Writes go through sidebar.services.
"""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import role_required
from scrm.wecom.media import MediaRejected, media_asset_create
from scrm.wecom.models import MediaAsset
from sidebar.forms import FolderForm, QuickReplyForm, SettingsForm
from sidebar.models import QuickReply, QuickReplyFolder
from sidebar.selectors import quick_reply_library
from sidebar.services import (
    QuickReplyData,
    SidebarInputError,
    quick_reply_delete,
    quick_reply_folder_create,
    quick_reply_folder_delete,
    quick_reply_folder_update,
    quick_reply_save,
    sidebar_settings_get,
    sidebar_settings_update,
)

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
CAN_WRITE = (User.Role.ADMIN, User.Role.OPERATOR)
NAV = "quick_replies"


def _refused(exc: Exception) -> str:
    return _("Nothing was saved: %(reason)s") % {"reason": exc}


def _folder_or_404(pk: int) -> QuickReplyFolder:
    folder = QuickReplyFolder.objects.filter(pk=pk).first()
    if folder is None:
        raise Http404
    return folder


def _reply_or_404(pk: int) -> QuickReply:
    reply = QuickReply.objects.select_related("folder", "media").filter(pk=pk).first()
    if reply is None:
        raise Http404
    return reply


@role_required(*ANY_ROLE)
def quick_replies(request: HttpRequest) -> HttpResponse:
    """The library: folders with their replies; a new folder (POST)."""
    can_write = getattr(request.user, "role", None) in CAN_WRITE
    form = FolderForm()
    if request.method == "POST":
        if not can_write:
            return render(request, "console/forbidden.html", status=403)
        form = FolderForm(request.POST)
        if form.is_valid():
            try:
                folder = quick_reply_folder_create(
                    name=form.cleaned_data["name"],
                    order=form.cleaned_data["order"] or 0,
                    actor=request.user,
                )
            except SidebarInputError as exc:
                messages.error(request, _refused(exc))
            else:
                messages.success(request, _("Folder “%(name)s” created.") % {"name": folder.name})
                return redirect("sidebar:console_quick_replies")
    return render(
        request,
        "sidebar/console/quick_replies.html",
        {"folders": quick_reply_library(), "form": form, "can_write": can_write, "active_nav": NAV},
    )


@role_required(*CAN_WRITE)
def folder_edit(request: HttpRequest, pk: int) -> HttpResponse:
    folder = _folder_or_404(pk)
    if request.method == "POST":
        form = FolderForm(request.POST)
        if form.is_valid():
            try:
                quick_reply_folder_update(
                    folder=folder,
                    name=form.cleaned_data["name"],
                    order=form.cleaned_data["order"] or 0,
                    actor=request.user,
                )
            except SidebarInputError as exc:
                messages.error(request, _refused(exc))
            else:
                messages.success(request, _("Folder saved."))
                return redirect("sidebar:console_quick_replies")
    else:
        form = FolderForm(initial={"name": folder.name, "order": folder.order})
    return render(
        request,
        "sidebar/console/folder_form.html",
        {"form": form, "folder": folder, "active_nav": NAV},
    )


@role_required(*CAN_WRITE)
def folder_delete(request: HttpRequest, pk: int) -> HttpResponse:
    folder = _folder_or_404(pk)
    if request.method == "POST":
        quick_reply_folder_delete(folder=folder, actor=request.user)
        messages.success(request, _("Folder “%(name)s” deleted.") % {"name": folder.name})
        return redirect("sidebar:console_quick_replies")
    return render(
        request,
        "sidebar/console/confirm_delete.html",
        {
            "title": _("Delete the folder “%(name)s” and its %(count)d replies?")
            % {"name": folder.name, "count": folder.replies.count()},
            "active_nav": NAV,
        },
    )


def _reply_data(request: HttpRequest, form: QuickReplyForm) -> QuickReplyData:
    """The form's fields; an uploaded image goes into the media library first."""
    data = form.cleaned_data
    media: MediaAsset | None = data["library_image"]
    upload = data.get("upload")
    if upload and data["kind"] == QuickReply.Kind.IMAGE:
        try:
            media = media_asset_create(
                name=upload.name,
                kind=MediaAsset.Kind.IMAGE,
                content=upload.read(),
                content_type=upload.content_type,
            )
        except MediaRejected as exc:
            raise SidebarInputError(str(exc)) from exc
    return QuickReplyData(
        folder=data["folder"],
        kind=data["kind"],
        title=data["title"],
        text=data["text"],
        media=media,
        url=data["url"],
        description=data["description"],
        order=data["order"] or 0,
    )


def _reply_page(request: HttpRequest, reply: QuickReply | None) -> HttpResponse:
    if request.method == "POST":
        form = QuickReplyForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                saved = quick_reply_save(
                    data=_reply_data(request, form), actor=request.user, reply=reply
                )
            except SidebarInputError as exc:
                messages.error(request, _refused(exc))
            else:
                messages.success(
                    request, _("Quick reply “%(title)s” saved.") % {"title": saved.title}
                )
                return redirect(
                    f"{reverse('sidebar:console_quick_replies')}#folder-{saved.folder_id}"
                )
    elif reply is not None:
        form = QuickReplyForm(initial=QuickReplyForm.initial_for(reply))
    else:
        form = QuickReplyForm(
            initial={"folder": request.GET.get("folder") or None, "kind": QuickReply.Kind.TEXT}
        )
    return render(
        request,
        "sidebar/console/reply_form.html",
        {"form": form, "reply": reply, "active_nav": NAV},
    )


@role_required(*CAN_WRITE)
def reply_new(request: HttpRequest) -> HttpResponse:
    if not QuickReplyFolder.objects.exists():
        messages.error(request, _("Create a folder first."))
        return redirect("sidebar:console_quick_replies")
    return _reply_page(request, None)


@role_required(*CAN_WRITE)
def reply_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _reply_page(request, _reply_or_404(pk))


@role_required(*CAN_WRITE)
def reply_delete(request: HttpRequest, pk: int) -> HttpResponse:
    reply = _reply_or_404(pk)
    if request.method == "POST":
        quick_reply_delete(reply=reply, actor=request.user)
        messages.success(request, _("Quick reply “%(title)s” deleted.") % {"title": reply.title})
        return redirect("sidebar:console_quick_replies")
    return render(
        request,
        "sidebar/console/confirm_delete.html",
        {
            "title": _("Delete the quick reply “%(title)s”?") % {"title": reply.title},
            "active_nav": NAV,
        },
    )


def _setup(request: HttpRequest) -> dict[str, Any]:
    """What an admin enters in WeCom: the page address on each of the brand's hosts, and
    the hosts to trust (OAuth2 redirect and JS-SDK)."""
    tenant = getattr(request, "tenant", None)
    hosts = (
        list(tenant.domains.order_by("-is_primary", "domain").values_list("domain", flat=True))
        if tenant is not None and hasattr(tenant, "domains")
        else []
    )
    return {
        "hosts": hosts,
        "page_urls": [f"{request.scheme}://{host}{reverse('sidebar:home')}" for host in hosts],
    }


@role_required(*ANY_ROLE)
def settings_page(request: HttpRequest) -> HttpResponse:
    """Who a guide sees in the sidebar (admins change it) and the WeCom setup values."""
    is_admin = getattr(request.user, "role", None) == User.Role.ADMIN
    row = sidebar_settings_get()
    if request.method == "POST":
        if not is_admin:
            return render(request, "console/forbidden.html", status=403)
        form = SettingsForm(request.POST)
        if form.is_valid():
            sidebar_settings_update(
                guide_scope=form.cleaned_data["guide_scope"], actor=request.user
            )
            messages.success(request, _("Sidebar settings saved."))
            return redirect("sidebar:console_settings")
    else:
        form = SettingsForm(initial={"guide_scope": row.guide_scope})
    return render(
        request,
        "sidebar/console/settings.html",
        {
            "form": form,
            "row": row,
            "is_admin": is_admin,
            "active_nav": "sidebar_settings",
            **_setup(request),
        },
    )
