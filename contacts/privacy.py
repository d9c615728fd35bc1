"""Who may see customers' phone numbers, and how the others see them.

Viewers never see full phone numbers, in pages or in the API; admins and operators do.
"""

from typing import Any

from accounts.models import User

_PHONE_ROLES = frozenset({User.Role.ADMIN, User.Role.OPERATOR})


def mask_phone(phone: str) -> str:
    """`13812345678` -> `138****5678`: the first 3 and last 4 digits stay visible.

    Shorter numbers keep less: at most a third of the characters is shown at each end, so
    a 7-digit landline number never shows up whole.
    """
    phone = (phone or "").strip()
    if not phone:
        return ""
    if len(phone) >= 11:
        return f"{phone[:3]}****{phone[-4:]}"
    keep = len(phone) // 3
    if keep == 0:
        return "*" * len(phone)
    return f"{phone[:keep]}****{phone[-keep:]}"


def can_see_phones(user: Any) -> bool:
    """Admins and operators see full phone numbers; viewers (and anyone else) do not."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and getattr(user, "role", None) in _PHONE_ROLES
    )
