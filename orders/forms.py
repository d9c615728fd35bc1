"""Console forms of orders: the list filters (GET) and the CSV upload."""

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.forms import DATE_INPUT_FORMATS, FilterForm, store_field
from orders.models import Order
from orders.selectors import EventFilters, OrderFilters

MATCHED_CHOICES = [
    ("", _("Matched or not")),
    ("yes", _("Matched to a customer")),
    ("no", _("Waiting for their customer")),
]


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _day_start(day: date | None) -> datetime | None:
    return timezone.make_aware(datetime.combine(day, time.min)) if day else None


def _day_end(day: date | None) -> datetime | None:
    return timezone.make_aware(datetime.combine(day, time.max)) if day else None


def _matched(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class _DateRangeForm(FilterForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned


class OrderFilterForm(_DateRangeForm):
    q = forms.CharField(
        required=False,
        max_length=128,
        label=_("Search"),
        widget=forms.TextInput(
            attrs={"placeholder": _("Order id or external userid"), "type": "search"}
        ),
    )
    matched = forms.ChoiceField(required=False, label=_("Customer"), choices=MATCHED_CHOICES)
    status = forms.ChoiceField(
        required=False,
        label=_("Status"),
        choices=[("", _("Any status")), *Order.Status.choices],
    )
    source = forms.CharField(required=False, max_length=64, label=_("Source"))
    store = store_field()
    date_from = _date_field(_("Paid from"))
    date_to = _date_field(_("Paid to"))

    def filters(self) -> OrderFilters:
        """The valid filters; invalid ones are left out (see `error_list`)."""
        q = self.value_of("q", "").strip()
        by_customer = q.startswith(("wm", "wo"))
        store = self.value_of("store")
        return OrderFilters(
            external_userid=q if by_customer else "",
            order_id="" if by_customer else q,
            matched=_matched(self.value_of("matched", "")),
            status=self.value_of("status", ""),
            source=self.value_of("source", "").strip(),
            store_id=store.pk if store is not None else None,
            paid_from=_day_start(self.value_of("date_from")),
            paid_to=_day_end(self.value_of("date_to")),
        )


class EventFilterForm(_DateRangeForm):
    q = forms.CharField(
        required=False,
        max_length=64,
        label=_("Customer"),
        widget=forms.TextInput(attrs={"placeholder": _("External userid"), "type": "search"}),
    )
    type = forms.SlugField(required=False, max_length=64, label=_("Event type"))
    matched = forms.ChoiceField(required=False, label=_("Matched"), choices=MATCHED_CHOICES)
    date_from = _date_field(_("Occurred from"))
    date_to = _date_field(_("Occurred to"))

    def filters(self) -> EventFilters:
        return EventFilters(
            external_userid=self.value_of("q", "").strip(),
            type=self.value_of("type", ""),
            matched=_matched(self.value_of("matched", "")),
            occurred_from=_day_start(self.value_of("date_from")),
            occurred_to=_day_end(self.value_of("date_to")),
        )


class OrderImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8 or GBK (as Excel saves it), at most 10 MB and 100,000 rows."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )
    source = forms.CharField(
        required=False,
        max_length=64,
        label=_("Source"),
        help_text=_("For rows whose source cell is empty (your system's name, e.g. erp)."),
    )
    require_match = forms.BooleanField(
        required=False,
        label=_("Refuse rows whose customer is not found"),
        help_text=_(
            "Otherwise such orders are kept and matched when the customer adds a guide or a "
            "guide enters the phone number."
        ),
    )
