from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.models import APIKey
from accounts.selectors import api_key_from_raw

# last_used_at is a hint for operators; writing it at most once a minute keeps the hot path
# free of writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class APIKeyPrincipal:
    """The caller of an API request: a tenant's API key (not an operator)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key: APIKey) -> None:
        self.api_key = api_key
        self.pk = None

    def __str__(self) -> str:
        return str(self.api_key)


class APIKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer scrm_<prefix>_<secret>`, looked up in the host's tenant only."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[APIKeyPrincipal, APIKey] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword or len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Malformed Authorization header; use: Bearer <API key>.")
            )
        try:
            raw_key = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from exc
        api_key = api_key_from_raw(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        self._note_use(api_key)
        return APIKeyPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    @staticmethod
    def _note_use(api_key: APIKey) -> None:
        from accounts.tasks import api_key_mark_used_task
        from scrm.tenant_tasks import enqueue

        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            enqueue(api_key_mark_used_task, api_key_id=api_key.pk, used_at=now.isoformat())


def principal_api_key(request: Any) -> APIKey | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, APIKey) else None
