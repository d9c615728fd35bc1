"""One rate limiter for every WeCom call: sliding windows in Redis, checked atomically.

Each call takes one slot in every window that applies to it:
- per corp per API (WeCom: 10,000/min and 150,000/h), keyed by tenant schema and corp;
- per outgoing IP per API (WeCom: 20,000/min), the one platform-wide key, named as such.

Welcome messages (priority "welcome") may use the whole limit; everything else ("bulk")
only the share left after the welcome reserve, so a group send or a sync can never starve
the 20-second welcome window. A denied call is told how long to wait; nothing sleeps here.
"""

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django_redis import get_redis_connection

Priority = Literal["welcome", "bulk"]

WINDOW_MARGIN_RATIO = 0.03
WINDOW_MARGIN_MS = 150

# KEYS: the window keys. ARGV: a member unique to this call (two calls in the same
# millisecond must take two slots), then limit and window (ms) per key.
# Returns 0 when the slot was taken, else the milliseconds to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now + 1
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return 0
"""


@dataclass(frozen=True)
class Window:
    scope: Literal["corp", "ip"]
    limit: int
    seconds: int


def configured_windows(overrides: dict[str, Any] | None = None) -> list[Window]:
    """Windows from settings.WECOM_RATE_LIMITS, with a tenant's overrides on top."""
    config = {**settings.WECOM_RATE_LIMITS, **(overrides or {})}
    windows = [Window("corp", int(limit), int(seconds)) for limit, seconds in config["per_corp"]]
    windows += [Window("ip", int(limit), int(seconds)) for limit, seconds in config["per_ip"]]
    return windows


class RateLimiter:
    def __init__(
        self,
        *,
        tenant_schema: str,
        corp_id: str,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        config = {**settings.WECOM_RATE_LIMITS, **(overrides or {})}
        self.tenant_schema = tenant_schema
        self.corp_id = corp_id
        self.windows = configured_windows(overrides)
        self.safety = float(config["safety"])
        self.welcome_reserve = float(config["welcome_reserve"])
        self.outgoing_ip = settings.WECOM_OUTGOING_IP
        self._redis = get_redis_connection("default")
        self._script = self._redis.register_script(_ACQUIRE)

    def key(self, window: Window, api: str) -> str:
        if window.scope == "ip":
            # The one platform-wide key: WeCom limits each outgoing IP across all corps.
            return f"scrm:platform:wecom:rl:ip:{self.outgoing_ip}:{window.seconds}:{api}"
        return f"scrm:{self.tenant_schema}:wecom:rl:corp:{self.corp_id}:{window.seconds}:{api}"

    def effective_limit(self, window: Window, priority: Priority) -> int:
        limit = window.limit * self.safety
        if priority != "welcome":
            limit *= 1 - self.welcome_reserve
        return max(1, int(limit))

    def effective_window_ms(self, window: Window) -> int:
        # A call reaches WeCom a little after it takes its slot here, and WeCom's counters
        # are coarser than ours: keep each slot a bit longer than the window itself.
        return int(window.seconds * 1000 * (1 + WINDOW_MARGIN_RATIO) + WINDOW_MARGIN_MS)

    def try_acquire(self, *, api: str, priority: Priority) -> float:
        """Take a slot now; 0.0 when taken, else the seconds to wait before trying again."""
        keys, args = [], []
        for window in self.windows:
            keys.append(self.key(window, api))
            args += [self.effective_limit(window, priority), self.effective_window_ms(window)]
        member = f"{priority}:{uuid.uuid4().hex}"
        wait_ms = self._script(keys=keys, args=[member, *args])
        return float(wait_ms) / 1000.0
