"""The privacy actions on the console's customer page."""

from typing import Any

from django import template

from accounts.models import User
from privacy.erasure import is_erased_id

register = template.Library()


@register.inclusion_tag("privacy/_customer_actions.html", takes_context=True)
def privacy_customer_actions(context: dict[str, Any], customer: Any) -> dict[str, Any]:
    """Export and erase buttons for admins; an erased customer says so to everyone."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "customer": customer,
        "is_admin": getattr(user, "role", None) == User.Role.ADMIN
        and getattr(user, "is_active", False),
        "erased": is_erased_id(customer.external_userid),
    }
