"""Console pages of the WeCom integration: callback events."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.permissions import role_required
from scrm.wecom.events.services import STUCK_AFTER, callback_event_retry
from scrm.wecom.models import CallbackEvent
from scrm.wecom.selectors import callback_event_list
from scrm.wecom.selftest import callback_url, wecom_self_test


@role_required(User.Role.ADMIN, User.Role.OPERATOR)
def callback_events(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in CallbackEvent.Status.values:
        status = ""
    page = Paginator(callback_event_list(status=status), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "wecom/callback_events.html",
        {
            "page": page,
            "status": status,
            "statuses": CallbackEvent.Status.choices,
            "stuck_minutes": int(STUCK_AFTER.total_seconds() // 60),
            "active_nav": "callback_events",
        },
    )


@require_POST
@role_required(User.Role.ADMIN, User.Role.OPERATOR)
def callback_event_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(CallbackEvent, pk=pk)
    if callback_event_retry(event=event, actor=request.user):
        messages.success(request, _("Event #%(id)s queued again.") % {"id": pk})
    else:
        messages.error(
            request,
            _("Event #%(id)s cannot be retried: only failed or stuck events can.") % {"id": pk},
        )
    return redirect("wecom:callback_events")


@role_required(User.Role.ADMIN)
def connection(request: HttpRequest) -> HttpResponse:
    """The brand's WeCom connection: apps, callback URLs, and the self-test on demand."""
    tenant = request.tenant  # type: ignore[attr-defined]
    corp = getattr(tenant, "wecom_corp", None)
    apps = list(corp.apps.order_by("kind")) if corp is not None else []
    results = None
    if request.method == "POST":
        results = wecom_self_test(tenant=tenant, actor=request.user)
    return render(
        request,
        "wecom/connection.html",
        {
            "corp": corp,
            "apps": [
                {"app": app, "callback_url": callback_url(corp.corp_id, app.kind)}
                for app in apps
                if corp is not None
            ],
            "results": results,
            "active_nav": "wecom",
        },
    )
