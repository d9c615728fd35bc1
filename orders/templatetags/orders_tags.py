"""Template helpers of the orders pages."""

from typing import Any

from django import template

from orders.services import items_summary

register = template.Library()


@register.filter(name="items_summary")
def items_summary_filter(items: Any) -> str:
    """`口红 ×1, 面霜 ×2`: an order's first items."""
    return items_summary(items)
