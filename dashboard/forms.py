"""The dashboard's filters (GET `?from=&to=&store=`): the channel stats' date range (the
last 30 days by default, at most 366) and a store."""

from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels_qr.forms import StatsRangeForm
from channels_qr.selectors import StatsRangeError, stats_range
from contacts.forms import FilterForm
from dashboard.selectors import DashboardFilters


class DashboardFilterForm(FilterForm, StatsRangeForm):
    """A bad value is reported and the default used. The stores' choices are given (one
    query, made by the view)."""

    store = forms.TypedChoiceField(
        label=_("Store"), required=False, coerce=int, empty_value=None, choices=()
    )

    def __init__(self, *args: Any, stores: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        store = self.fields["store"]
        assert isinstance(store, forms.TypedChoiceField)
        store.choices = [("", _("All stores")), *stores]
        self.order_fields(["from", "to", "store"])

    def filters(self, today: date | None = None) -> DashboardFilters:
        """The valid filters; the default range where the dates are missing or bad."""
        start, end = self.dates()
        try:
            start, end = stats_range(start, end or today)
        except StatsRangeError:
            start, end = stats_range(None, today)
        return DashboardFilters(start=start, end=end, store_id=self.value_of("store"))
