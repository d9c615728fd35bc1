from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import AUDIT_ACTIONS
from accounts.forms import APIKeyCreateForm, ThrottledLoginForm
from accounts.models import APIKey, User
from accounts.permissions import role_required
from accounts.selectors import api_key_list, audit_log_list
from accounts.services import (
    APIKeyRotationRefused,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = ThrottledLoginForm
    redirect_authenticated_user = True


@role_required(User.Role.ADMIN)
def api_keys(request: HttpRequest) -> HttpResponse:
    """List keys and create one; a new key is shown once, on this response only."""
    new_key = None
    form = APIKeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _api_key, new_key = api_key_create(
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            sees_phones=form.cleaned_data["sees_phones"],
            created_by=request.user,  # type: ignore[arg-type]
            request=request,
        )
        messages.success(request, _("API key created. Copy it now: it will not be shown again."))
        form = APIKeyCreateForm()
    return render(
        request,
        "accounts/api_keys.html",
        {"form": form, "api_keys": api_key_list(), "new_key": new_key},
    )


@require_POST
@role_required(User.Role.ADMIN)
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(APIKey, pk=pk)
    api_key_revoke(api_key=api_key, revoked_by=request.user, request=request)  # type: ignore[arg-type]
    messages.success(request, _("API key “%(name)s” revoked.") % {"name": api_key.name})
    return redirect("accounts:api_keys")


@require_POST
@role_required(User.Role.ADMIN)
def api_key_rotate_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The replacement is shown once, on this response (like a new key)."""
    api_key = get_object_or_404(APIKey, pk=pk)
    try:
        _replacement, new_key = api_key_rotate(api_key=api_key, actor=request.user, request=request)
    except APIKeyRotationRefused as exc:
        messages.error(request, str(exc))
        return redirect("accounts:api_keys")
    messages.success(
        request,
        _(
            "Key “%(name)s” rotated. Copy the new key now: it will not be shown again. "
            "The old key keeps working until %(time)s."
        )
        % {
            "name": api_key.name,
            "time": timezone.localtime(api_key.revoked_at).strftime("%Y-%m-%d %H:%M"),
        },
    )
    return render(
        request,
        "accounts/api_keys.html",
        {"form": APIKeyCreateForm(), "api_keys": api_key_list(), "new_key": new_key},
    )


@role_required(User.Role.ADMIN)
def audit_log(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", "")
    if action not in AUDIT_ACTIONS:
        action = ""
    page = Paginator(audit_log_list(action=action), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/audit_log.html",
        {"page": page, "action": action, "actions": AUDIT_ACTIONS},
    )
