from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.models import APIKey


class HasAPIKeyScope(BasePermission):
    """Any key may read; writing needs a read-write key."""

    message = _("This API key is read-only; writing needs a read-write key.")

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, APIKey):
            return False
        if request.method in SAFE_METHODS:
            return True
        return api_key.scope == APIKey.Scope.READ_WRITE
