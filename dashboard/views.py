"""The console's home: the operator dashboard.

Every number comes from a pre-aggregated table (dashboard.models, lifecycle.StageCount) or
a small table (handovers, group sends), so the page costs the same queries however many
relations the tenant has. The charts are drawn in the browser by ECharts from the JSON the
page embeds (static/dashboard/dashboard.js).
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import role_required
from dashboard.forms import DashboardFilterForm
from dashboard.selectors import (
    DAYS_MAX,
    RelationNumbers,
    group_sends_this_week,
    handovers_in_progress,
    refresh_state,
    relation_numbers,
    store_choices,
)
from lifecycle.models import DISPLAY_ORDER, FUNNEL
from lifecycle.selectors import StageSeries, stage_series

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
REFRESH_MINUTES = 5  # scrm.celery: dashboard-refresh


def chart_data(numbers: RelationNumbers, stages: StageSeries) -> dict[str, Any]:
    """What static/dashboard/dashboard.js draws, with its texts in the operator's language."""
    days = [row.day.isoformat() for row in numbers.days if row.day is not None]
    growth = [
        ("adds", _("Adds"), "bar", [row.adds for row in numbers.days]),
        ("deleted_by_customer", _("Deleted by the customer"), "bar",
         [row.deleted_by_customer for row in numbers.days]),
        ("deleted_by_guide", _("Deleted by the guide"), "bar",
         [row.deleted_by_guide for row in numbers.days]),
    ]  # fmt: skip
    if any(row.vanished for row in numbers.days):
        growth.append(
            ("vanished", _("Gone (found by sync)"), "bar", [row.vanished for row in numbers.days])
        )
    growth.append(("net", _("Net growth"), "line", [row.net for row in numbers.days]))
    return {
        "empty": _("No data in these days."),
        "growth": {
            "days": days,
            "series": [
                {"key": key, "name": name, "type": kind, "data": data}
                for key, name, kind, data in growth
            ],
            "has_data": any(row.adds or row.lost for row in numbers.days),
        },
        "channels": {
            "names": [row.name or f"#{row.channel_id}" for row in numbers.channels],
            "adds": [row.adds for row in numbers.channels],
            "lost": [row.lost for row in numbers.channels],
            "adds_name": _("Adds"),
            "lost_name": _("Lost"),
        },
        "funnel": [
            {"key": stage.value, "name": str(stage.label), "value": stages.latest.get(stage, 0)}
            for stage in FUNNEL
        ]
        if not stages.empty
        else [],
        "stages": {
            "days": [day.isoformat() for day in stages.days],
            "series": [
                {"key": stage.value, "name": str(stage.label), "data": stages.counts[stage]}
                for stage in DISPLAY_ORDER
            ],
            "has_data": not stages.empty,
        },
    }


@role_required(*ANY_ROLE)
def home(request: HttpRequest) -> HttpResponse:
    """Growth, channels, guides, lifecycle, handovers and group sends for a date range (at
    most DAYS_MAX days) and a store."""
    stores = store_choices()
    form = DashboardFilterForm(request.GET, stores=stores)
    filters = form.filters()
    numbers = relation_numbers(filters)
    stages = stage_series(start=filters.start, end=filters.end)
    return render(
        request,
        "console/home.html",
        {
            "active_nav": "home",
            "form": form,
            "errors": form.error_list(),
            "filters": filters,
            "store_name": dict(stores).get(filters.store_id or 0, ""),
            "numbers": numbers,
            "total": numbers.total,
            "state": refresh_state(),
            "refresh_minutes": REFRESH_MINUTES,
            "days_max": DAYS_MAX,
            "stages": stages,
            "stage_rows": [
                {"stage": s, "count": stages.latest.get(s.value, 0)} for s in DISPLAY_ORDER
            ],
            "handovers": handovers_in_progress(),
            "sends": group_sends_this_week(),
            "charts": chart_data(numbers, stages),
        },
    )
