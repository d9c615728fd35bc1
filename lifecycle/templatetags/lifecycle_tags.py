"""The customer's stage on the console's customer page."""

from typing import Any

from django import template

from lifecycle.selectors import customer_stage

register = template.Library()


@register.inclusion_tag("lifecycle/_customer_stage.html")
def lifecycle_stage(customer: Any) -> dict[str, Any]:
    """One query: the customer's stage and since when."""
    return {"stage": customer_stage(customer_id=customer.pk)}
