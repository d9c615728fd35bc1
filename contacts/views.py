"""Console pages of the contact book: customers, guides, group chats, deletions, sync, export.

Customer lists are keyset-paginated (a cursor in `after`, never OFFSET, never a total
count): at 20 million relations a page must cost one index range scan. Filters that do not
parse are reported on the page and left out; a page never fails on a bad query string.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import role_required
from accounts.services import audit_record
from contacts.exports import customer_export_lines
from contacts.forms import (
    ContactSettingsForm,
    CustomerFilterForm,
    GroupChatFilterForm,
    GuideFilterForm,
    filters_for_audit,
)
from contacts.models import Customer, GroupChat, Guide, Relation
from contacts.privacy import can_see_phones
from contacts.selectors import (
    PHONE_RE,
    CustomerFilters,
    InvalidCursor,
    KeysetPage,
    customer_get,
    customer_list,
    customer_timeline,
    deletion_list,
    group_chat_get,
    group_chat_list,
    group_chat_member_list,
    guide_get,
    guide_list,
    keyset_page,
    sync_run_list,
)
from contacts.services import (
    SyncAlreadyRunning,
    contact_settings_get,
    contact_settings_update,
    sync_start,
)
from handover.selectors import customer_transfer_list, guide_handovers_out, guide_transfers_in
from tagging.selectors import tag_options, tags_by_ids

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
CAN_WRITE = (User.Role.ADMIN, User.Role.OPERATOR)
PAGE_SIZE = 50
GUIDE_CHATS_SHOWN = 20
SYNC_RUNS_SHOWN = 20


def _keyset(
    request: HttpRequest, qs: QuerySet[Any], errors: list[str], *, param: str = "after"
) -> KeysetPage[Any]:
    """The page the cursor in `?after=` points at; the first page (and an error) for a
    cursor this server did not hand out."""
    try:
        return keyset_page(qs, after=request.GET.get(param, ""), size=PAGE_SIZE)
    except InvalidCursor:
        errors.append(_("That page link is no longer valid: showing the first page."))
        return keyset_page(qs, size=PAGE_SIZE)


def _role(request: HttpRequest) -> User.Role | None:
    role = getattr(request.user, "role", None)
    return User.Role(role) if role in User.Role.values else None


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "console/forbidden.html", status=403)


def _get_or_404(getter: Any, **kwargs: Any) -> Any:
    try:
        return getter(**kwargs)
    except ObjectDoesNotExist:
        raise Http404 from None


# --- customers ----------------------------------------------------------------------------


@role_required(*ANY_ROLE)
def customers(request: HttpRequest) -> HttpResponse:
    form = CustomerFilterForm(request.GET)
    filters = form.filters()
    errors = form.error_list()
    if PHONE_RE.match(filters.q.strip()) and not can_see_phones(request.user):
        # as in the API: who sees numbers masked may not learn whose a number is
        errors.append(_("Searching by phone number is for admins and operators."))
        filters.q = ""
    page = _keyset(request, customer_list(filters), errors)
    return render(
        request,
        "contacts/customers.html",
        {
            "form": form,
            "page": page,
            "errors": errors,
            "filtered": not filters.is_empty(),
            "can_export": _role(request) in CAN_WRITE,
            "active_nav": "customers",
        },
    )


def _relation_tag_rows(relations: list[Relation], *, with_picker: bool) -> list[dict[str, Any]]:
    """Each relation with its tags as (tag_id, Tag | None) chips (None: an id the catalogue
    does not know, shown as the id) and, for operators who may tag, the catalogue's tags it
    does not carry yet. One query whatever the number of relations: the whole catalogue
    (at most 3,000 tags) for the picker, else only the tags carried (none if no tags)."""
    if with_picker:
        catalogue = tag_options()
        known = {tag.tag_id: tag for tag in catalogue}
    else:
        catalogue = []
        known = tags_by_ids(tag_id for relation in relations for tag_id in relation.wecom_tag_ids)
    return [
        {
            "relation": relation,
            "chips": [(tag_id, known.get(tag_id)) for tag_id in relation.wecom_tag_ids],
            "options": [tag for tag in catalogue if tag.tag_id not in relation.wecom_tag_ids],
        }
        for relation in relations
    ]


@role_required(*ANY_ROLE)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer: Customer = _get_or_404(customer_get, customer_id=pk)
    errors: list[str] = []
    timeline = _keyset(request, customer_timeline(customer_id=customer.pk), errors)
    can_tag = _role(request) in CAN_WRITE
    relations = list(customer.relations.all())
    return render(
        request,
        "contacts/customer_detail.html",
        {
            "customer": customer,
            "relation_rows": _relation_tag_rows(relations, with_picker=can_tag),
            "can_tag": can_tag,
            "timeline": timeline,
            "transfers": customer_transfer_list(customer_id=customer.pk),
            "errors": errors,
            "active_nav": "customers",
        },
    )


# role_required is typed for HttpResponse; a streamed response passes through it unchanged.
@role_required(*CAN_WRITE)  # type: ignore[arg-type]
def customer_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered customers as CSV, one row per relation, streamed; audited on start."""
    form = CustomerFilterForm(request.GET)
    if not form.is_valid():
        messages.error(request, _("Nothing was exported: correct the filters first."))
        return redirect(f"{reverse('contacts:customers')}?{request.GET.urlencode()}")
    filters = form.filters()
    audit_record(
        action="contacts.exported",
        actor=request.user,
        request=request,
        detail=filters_for_audit(filters),
    )
    response = StreamingHttpResponse(
        customer_export_lines(filters), content_type="text/csv; charset=utf-8"
    )
    filename = f"customers-{timezone.localtime():%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- deletions and alert settings ----------------------------------------------------------


@role_required(*ANY_ROLE)
def deletions(request: HttpRequest) -> HttpResponse:
    """Recent deletions (删人提醒), and the alert settings (admins change them)."""
    is_admin = _role(request) == User.Role.ADMIN
    if request.method == "POST" and not is_admin:
        return _forbidden(request)
    row = contact_settings_get()
    recipients = list(row.deletion_alert_recipients.select_related("store").order_by("userid"))
    form = None
    if request.method == "POST":
        form = ContactSettingsForm(request.POST)
        if form.is_valid():
            contact_settings_update(
                actor=request.user,
                deletion_alert_mode=form.cleaned_data["deletion_alert_mode"],
                alert_on_guide_deletes=form.cleaned_data["alert_on_guide_deletes"],
                daily_sync_enabled=form.cleaned_data["daily_sync_enabled"],
                recipient_ids=form.cleaned_data["recipients"],
            )
            messages.success(request, _("Deletion alert settings saved."))
            return redirect("contacts:deletions")
    elif is_admin:
        form = ContactSettingsForm(
            initial={
                "deletion_alert_mode": row.deletion_alert_mode,
                "alert_on_guide_deletes": row.alert_on_guide_deletes,
                "daily_sync_enabled": row.daily_sync_enabled,
                "recipients": " ".join(guide.userid for guide in recipients),
            }
        )
    errors: list[str] = []
    page = _keyset(request, deletion_list(), errors)
    return render(
        request,
        "contacts/deletions.html",
        {
            "page": page,
            "errors": errors,
            "settings": row,
            "recipients": recipients,
            "form": form,
            "active_nav": "deletions",
        },
    )


# --- sync ---------------------------------------------------------------------------------


@role_required(*ANY_ROLE)
def sync(request: HttpRequest) -> HttpResponse:
    """Sync runs with their progress; admins and operators start one."""
    can_start = _role(request) in CAN_WRITE
    if request.method == "POST":
        if not can_start:
            return _forbidden(request)
        try:
            run = sync_start(trigger="console", actor=request.user)
        except SyncAlreadyRunning as exc:
            messages.error(
                request,
                _("Sync #%(id)s is already %(status)s: wait for it to finish.")
                % {"id": exc.run.pk, "status": exc.run.get_status_display()},
            )
        else:
            messages.success(
                request, _("Sync #%(id)s queued: its progress shows below.") % {"id": run.pk}
            )
        return redirect("contacts:sync")
    runs = sync_run_list(limit=SYNC_RUNS_SHOWN)
    return render(
        request,
        "contacts/sync.html",
        {
            "runs": runs,
            "in_flight": any(run.in_flight for run in runs),
            "can_start": can_start,
            "active_nav": "sync",
        },
    )


# --- guides -------------------------------------------------------------------------------


@role_required(*ANY_ROLE)
def guides(request: HttpRequest) -> HttpResponse:
    form = GuideFilterForm(request.GET)
    store = form.value_of("store")
    errors = form.error_list()
    qs = guide_list(
        store_id=store.pk if store is not None else None,
        status=form.value_of("status", ""),
        q=form.value_of("q", ""),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "contacts/guides.html",
        {"form": form, "page": page, "errors": errors, "active_nav": "guides"},
    )


@role_required(*ANY_ROLE)
def guide_detail(request: HttpRequest, pk: int) -> HttpResponse:
    guide: Guide = _get_or_404(guide_get, guide_id=pk)
    errors: list[str] = []
    customers_page = _keyset(request, customer_list(CustomerFilters(guide_id=guide.pk)), errors)
    chats = list(group_chat_list(owner_id=guide.pk)[: GUIDE_CHATS_SHOWN + 1])
    return render(
        request,
        "contacts/guide_detail.html",
        {
            "guide": guide,
            "customers_page": customers_page,
            "chats": chats[:GUIDE_CHATS_SHOWN],
            "more_chats": len(chats) > GUIDE_CHATS_SHOWN,
            "handovers_out": guide_handovers_out(guide_id=guide.pk),
            "transfers_in": guide_transfers_in(guide_id=guide.pk),
            "errors": errors,
            "active_nav": "guides",
        },
    )


# --- group chats --------------------------------------------------------------------------


@role_required(*ANY_ROLE)
def group_chats(request: HttpRequest) -> HttpResponse:
    form = GroupChatFilterForm(request.GET)
    owner = form.value_of("owner")
    errors = form.error_list()
    qs = group_chat_list(
        owner_id=owner.pk if owner is not None else None,
        status=form.value_of("status", ""),
        q=form.value_of("q", ""),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "contacts/group_chats.html",
        {"form": form, "page": page, "errors": errors, "active_nav": "group_chats"},
    )


@role_required(*ANY_ROLE)
def group_chat_detail(request: HttpRequest, pk: int) -> HttpResponse:
    chat: GroupChat = _get_or_404(group_chat_get, chat_id=pk)
    return render(
        request,
        "contacts/group_chat_detail.html",
        {
            "chat": chat,
            "members": group_chat_member_list(chat_id=chat.pk),
            "active_nav": "group_chats",
        },
    )
