"""Access tokens, cached in Redis per corp and app, refreshed under a lock.

Twenty workers that find the token missing or rejected at once make one gettoken call:
the first takes the lock and fetches, the others wait for the lock and find the new token.
"""

from collections.abc import Callable

from django_redis import get_redis_connection

# Refresh this long before WeCom's expiry so a token never dies mid-call.
EXPIRY_MARGIN_SECONDS = 300
LOCK_TIMEOUT_SECONDS = 15


class TokenStore:
    def __init__(
        self,
        *,
        tenant_schema: str,
        corp_id: str,
        app_kind: str,
        fetch: Callable[[], tuple[str, int]],
    ) -> None:
        base = f"scrm:{tenant_schema}:wecom:token:{corp_id}:{app_kind}"
        self.key = base
        self.lock_key = f"{base}:lock"
        self._fetch = fetch
        self._redis = get_redis_connection("default")

    def cached(self) -> str | None:
        value = self._redis.get(self.key)
        return value.decode() if value else None

    def get(self) -> str:
        return self.cached() or self.refresh(stale=None)

    def refresh(self, *, stale: str | None) -> str:
        """Fetch a new token unless another process already replaced `stale`."""
        with self._redis.lock(
            self.lock_key, timeout=LOCK_TIMEOUT_SECONDS, blocking_timeout=LOCK_TIMEOUT_SECONDS
        ):
            current = self.cached()
            if current and current != stale:
                return current
            token, expires_in = self._fetch()
            ttl = max(60, int(expires_in) - EXPIRY_MARGIN_SECONDS)
            self._redis.set(self.key, token, ex=ttl)
            return token

    def forget(self) -> None:
        self._redis.delete(self.key)
