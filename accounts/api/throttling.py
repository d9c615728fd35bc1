"""Rate limit per API key: API_KEY_RATE (e.g. "1200/min") requests, counted per key.

The cache key names the key's id and, through the cache's key function, the tenant schema,
so two tenants' keys with the same id never share a budget. Over the limit: 429 with a
Retry-After header.
"""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class APIKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str | None:
        return str(settings.API_KEY_RATE) if settings.API_KEY_RATE else None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        api_key = request.auth
        if api_key is None:
            return None  # unauthenticated: answered 401 by the permission anyway
        return f"throttle:api_key:{api_key.pk}"
