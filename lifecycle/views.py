"""Console pages of lifecycle stages: the rules (with a preview of what they would give)
and each stage's customers. Every role reads; admins and operators change the rules."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import role_required
from contacts.selectors import InvalidCursor, keyset_page
from lifecycle.forms import LifecycleSettingsForm
from lifecycle.models import DISPLAY_ORDER, Stage
from lifecycle.selectors import latest_stage_counts, stage_customers
from lifecycle.services import (
    customer_stages_recompute_queue,
    lifecycle_settings,
    lifecycle_settings_update,
)
from lifecycle.stages import stage_counts_preview

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
CAN_WRITE = (User.Role.ADMIN, User.Role.OPERATOR)
PAGE_SIZE = 50


def _can_write(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in CAN_WRITE


@role_required(*ANY_ROLE)
def lifecycle_settings_view(request: HttpRequest) -> HttpResponse:
    """The stages now, the rules, a preview of changed rules (without saving), saving them
    (the stages are recomputed in the background) and recomputing on demand."""
    can_write = _can_write(request)
    options = lifecycle_settings()
    preview: dict[str, int] | None = None
    previewed = False
    if request.method == "POST":
        if not can_write:
            return render(request, "console/forbidden.html", status=403)
        action = request.POST.get("action", "save")
        if action == "recompute":
            customer_stages_recompute_queue()
            messages.success(request, _("The stages are being recomputed."))
            return redirect("lifecycle:settings")
        form = LifecycleSettingsForm(request.POST)
        if form.is_valid():
            if action == "preview":
                preview, previewed = stage_counts_preview(form.rules()), True
            else:
                lifecycle_settings_update(**form.cleaned_data, actor=request.user, request=request)
                messages.success(
                    request, _("Lifecycle rules saved: the stages are being recomputed.")
                )
                return redirect("lifecycle:settings")
    else:
        form = LifecycleSettingsForm(initial=LifecycleSettingsForm.initial_of(options))
    if not can_write:
        for field in form.fields.values():
            field.disabled = True
    counted_on, counts = latest_stage_counts()
    rows = [
        {
            "stage": stage,
            "count": counts[stage.value],
            "preview": preview.get(stage.value) if preview is not None else None,
            "delta": preview[stage.value] - counts[stage.value] if preview is not None else None,
        }
        for stage in DISPLAY_ORDER
    ]
    return render(
        request,
        "lifecycle/settings.html",
        {
            "form": form,
            "options": options,
            "rows": rows,
            "counted_on": counted_on,
            "previewed": previewed,
            "preview_failed": previewed and preview is None,
            "can_write": can_write,
            "active_nav": "lifecycle",
        },
    )


@role_required(*ANY_ROLE)
def stage_customers_view(request: HttpRequest) -> HttpResponse:
    """A stage's customers, who entered it most recently first (keyset pages)."""
    stage = request.GET.get("stage", "")
    errors: list[str] = []
    if stage not in Stage.values:
        if stage:
            errors.append(_("Unknown stage: showing new customers."))
        stage = Stage.NEW.value
    customers = stage_customers(stage=stage)
    try:
        page = keyset_page(customers, after=request.GET.get("after", ""), size=PAGE_SIZE)
    except InvalidCursor:
        errors.append(_("That page link is no longer valid: showing the first page."))
        page = keyset_page(customers, size=PAGE_SIZE)
    return render(
        request,
        "lifecycle/customers.html",
        {
            "stage": Stage(stage),
            "stages": DISPLAY_ORDER,
            "page": page,
            "errors": errors,
            "active_nav": "lifecycle",
        },
    )
