"""The sidebar's part of the console's customer page: notes and follow-ups."""

from typing import Any

from django import template

from sidebar.selectors import customer_panel

register = template.Library()


@register.inclusion_tag("sidebar/_customer_panel.html")
def sidebar_customer_panel(customer: Any) -> dict[str, Any]:
    """Two queries: the latest notes, and the follow-ups (open first)."""
    panel = customer_panel(customer_id=customer.pk)
    return {"notes": panel.notes, "follow_ups": panel.follow_ups}
