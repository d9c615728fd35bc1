from typing import Any

from django.http import HttpRequest

from webhooks.services import notice_get


def webhook_notice(request: HttpRequest) -> dict[str, Any]:
    """Endpoints disabled after repeated failures, for the banner on every console page
    (read from the cache: no database query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "role"):
        return {}
    notice = notice_get()
    return {"webhook_notice": notice} if notice else {}
