from typing import Any

from django.http import HttpRequest

from dashboard.navigation import NAVIGATION


def console(request: HttpRequest) -> dict[str, Any]:
    """Navigation for console pages, filtered by the operator's role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "role"):
        return {}
    is_admin = user.role == "admin"
    sections = [
        (title, [item for item in items if is_admin or not item.admin_only])
        for title, items in NAVIGATION
    ]
    return {"console_navigation": sections, "tenant": getattr(request, "tenant", None)}
