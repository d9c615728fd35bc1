"""Console pages of webhooks (admins only, like API keys: an endpoint receives customer data):
the endpoints, creating and editing one with its secret shown once, rotating the secret, a
test event, enabling again after an automatic disabling, and each endpoint's delivery log
down to every attempt, with manual redelivery.

Writes go through webhooks.services; what they refuse comes back on the form or as a
message, never a 500.
"""

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.permissions import role_required
from contacts.selectors import InvalidCursor, keyset_page
from scrm.encryption import mask
from webhooks.events import EVENT_TYPES
from webhooks.forms import DeliveryFilterForm, EndpointForm, RotateForm
from webhooks.models import Delivery, Endpoint
from webhooks.selectors import delivery_get, delivery_list, endpoint_get, endpoint_list
from webhooks.services import (
    WebhookInputError,
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_disable,
    endpoint_enable,
    endpoint_secret_rotate,
    endpoint_test,
    endpoint_update,
    notice_set,
)

DELIVERIES_PAGE_SIZE = 30
NAV = "webhooks"


def _endpoint_or_404(pk: int) -> Endpoint:
    try:
        return endpoint_get(endpoint_id=pk)
    except Endpoint.DoesNotExist:
        raise Http404 from None


def _form_error(form: EndpointForm, exc: WebhookInputError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, str(exc))


def _secret_page(
    request: HttpRequest, endpoint: Endpoint, secret: str, *, new: bool
) -> HttpResponse:
    """The secret, shown on this response only (nothing keeps it in plain text)."""
    return render(
        request,
        "webhooks/secret.html",
        {"endpoint": endpoint, "secret": secret, "new": new, "active_nav": NAV},
    )


@role_required(User.Role.ADMIN)
def endpoints(request: HttpRequest) -> HttpResponse:
    rows = list(endpoint_list())
    notice_set(rows)  # the console's banner follows what the database says
    return render(
        request,
        "webhooks/endpoints.html",
        {"endpoints": rows, "event_types": EVENT_TYPES, "active_nav": NAV},
    )


@role_required(User.Role.ADMIN)
def endpoint_new(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = endpoint_create(
                **form.cleaned_data, actor=request.user, request=request
            )
        except WebhookInputError as exc:
            _form_error(form, exc)
        else:
            return _secret_page(request, endpoint, secret, new=True)
    return render(
        request, "webhooks/endpoint_form.html", {"form": form, "endpoint": None, "active_nav": NAV}
    )


@role_required(User.Role.ADMIN)
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint_update(
                endpoint=endpoint, **form.cleaned_data, actor=request.user, request=request
            )
        except WebhookInputError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("webhooks:detail", pk=endpoint.pk)
    return render(
        request,
        "webhooks/endpoint_form.html",
        {"form": form, "endpoint": endpoint, "active_nav": NAV},
    )


@role_required(User.Role.ADMIN)
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    filters = DeliveryFilterForm(request.GET or None)
    deliveries = delivery_list(endpoint_id=endpoint.pk, statuses=filters.statuses())
    errors: list[str] = []
    try:
        page = keyset_page(
            deliveries, after=request.GET.get("after", ""), size=DELIVERIES_PAGE_SIZE
        )
    except InvalidCursor:
        errors.append(_("That page link is no longer valid: showing the first page."))
        page = keyset_page(deliveries, size=DELIVERIES_PAGE_SIZE)
    return render(
        request,
        "webhooks/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "secret_hint": mask(endpoint.secret),
            "previous_valid": len(endpoint.signing_secrets()) > 1,
            "event_types": EVENT_TYPES,
            "filters": filters,
            "page": page,
            "errors": errors,
            "rotate_form": RotateForm(),
            "active_nav": NAV,
        },
    )


@require_POST
@role_required(User.Role.ADMIN)
def endpoint_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    form = RotateForm(request.POST)
    expire_now = form.is_valid() and form.cleaned_data["expire_now"]
    secret = endpoint_secret_rotate(
        endpoint=endpoint, keep_previous=not expire_now, actor=request.user, request=request
    )
    return _secret_page(request, endpoint, secret, new=False)


@require_POST
@role_required(User.Role.ADMIN)
def endpoint_test_view(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    delivery = endpoint_test(endpoint=endpoint, actor=request.user, request=request)
    messages.success(
        request,
        _("Test event queued (delivery #%(id)s): its result appears in the log below.")
        % {"id": delivery.pk},
    )
    return redirect("webhooks:detail", pk=endpoint.pk)


@require_POST
@role_required(User.Role.ADMIN)
def endpoint_enable_view(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = endpoint_enable(endpoint=_endpoint_or_404(pk), actor=request.user, request=request)
    messages.success(request, _("Endpoint enabled: new events are sent to it again."))
    return redirect("webhooks:detail", pk=endpoint.pk)


@require_POST
@role_required(User.Role.ADMIN)
def endpoint_disable_view(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = endpoint_disable(endpoint=_endpoint_or_404(pk), actor=request.user, request=request)
    messages.success(request, _("Endpoint disabled: no events are sent to it."))
    return redirect("webhooks:detail", pk=endpoint.pk)


@role_required(User.Role.ADMIN)
def endpoint_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    if request.method == "POST":
        endpoint_delete(endpoint=endpoint, actor=request.user, request=request)
        messages.success(request, _("Endpoint deleted."))
        return redirect("webhooks:list")
    return render(
        request, "webhooks/endpoint_delete.html", {"endpoint": endpoint, "active_nav": NAV}
    )


def _delivery_or_404(pk: int) -> Delivery:
    try:
        return delivery_get(delivery_id=pk)
    except Delivery.DoesNotExist:
        raise Http404 from None


def _pretty(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


@role_required(User.Role.ADMIN)
def delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = _delivery_or_404(pk)
    return render(
        request,
        "webhooks/delivery_detail.html",
        {
            "delivery": delivery,
            "endpoint": delivery.endpoint,
            "event": delivery.event,
            "data": _pretty(delivery.event.data),
            "attempts": list(delivery.attempt_log.all()),
            "active_nav": NAV,
        },
    )


@require_POST
@role_required(User.Role.ADMIN)
def delivery_redeliver_view(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = _delivery_or_404(pk)
    again = delivery_redeliver(delivery=delivery, actor=request.user, request=request)
    messages.success(
        request,
        _("Redelivery queued (delivery #%(id)s) with the same event id.") % {"id": again.pk},
    )
    return redirect("webhooks:delivery", pk=again.pk)
