"""Console pages of privacy (隐私与数据), for admins only: the retention settings with what the
daily job last did, and on a customer's page the export of their data (JSON) and the erasure
of it, after a confirmation that says what is removed and what is kept."""

import json

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.models import User
from accounts.permissions import role_required
from contacts.models import Customer
from contacts.privacy import can_see_phones
from privacy.erased import privacy_settings
from privacy.erasure import is_erased_id
from privacy.forms import EraseConfirmForm, PrivacySettingsForm
from privacy.selectors import erasure_impact, export_file_name, privacy_overview
from privacy.services import (
    SETTINGS_FIELDS,
    AlreadyErased,
    customer_erase,
    customer_export_record,
    privacy_settings_update,
)

ADMIN = User.Role.ADMIN


def _customer_or_404(pk: int) -> Customer:
    customer = Customer.objects.filter(pk=pk).first()
    if customer is None:
        raise Http404
    return customer


@role_required(ADMIN)
def privacy_settings_view(request: HttpRequest) -> HttpResponse:
    options = privacy_settings()
    if request.method == "POST":
        form = PrivacySettingsForm(request.POST)
        if form.is_valid():
            privacy_settings_update(
                actor=request.user,
                request=request,
                **{name: form.cleaned_data[name] for name in SETTINGS_FIELDS},
            )
            messages.success(request, _("Privacy settings saved."))
            return redirect("privacy:settings")
    else:
        form = PrivacySettingsForm(
            initial={name: getattr(options, name) for name in SETTINGS_FIELDS}
        )
    return render(
        request,
        "privacy/settings.html",
        {
            "form": form,
            "overview": privacy_overview(options=options),
            "stats": options.retention_stats or {},
            "active_nav": "privacy",
        },
    )


@require_GET
@role_required(ADMIN)
def customer_export_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything about the customer as one JSON file (audit-logged)."""
    customer = _customer_or_404(pk)
    document = customer_export_record(
        customer=customer,
        actor=request.user,
        full_phones=can_see_phones(request.user),
        request=request,
    )
    response = HttpResponse(
        json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{export_file_name(customer)}"'
    response["Cache-Control"] = "no-store"
    return response


@role_required(ADMIN)
def customer_erase_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what the erasure removes and keeps, for this customer; POST: erase."""
    customer = _customer_or_404(pk)
    if is_erased_id(customer.external_userid):
        messages.info(request, _("This customer's personal information was already erased."))
        return redirect("contacts:customer", pk=customer.pk)
    form = EraseConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            customer_erase(customer=customer, actor=request.user, request=request)
        except AlreadyErased:
            messages.info(request, _("This customer's personal information was already erased."))
        else:
            messages.success(
                request,
                _("Personal information erased. Ask the guides to delete the customer in WeCom."),
            )
        return redirect("contacts:customer", pk=customer.pk)
    return render(
        request,
        "privacy/erase_confirm.html",
        {
            "customer": customer,
            "form": form,
            "impact": erasure_impact(customer=customer),
            "active_nav": "customers",
        },
    )
