"""The running sandbox: state, clock, limits, faults and the callback dispatcher together."""

from dataclasses import dataclass
from typing import Any

from wecom_sandbox.callbacks import CallbackDispatcher, CallbackSettings
from wecom_sandbox.clock import SandboxClock
from wecom_sandbox.faults import FaultConfig, FaultInjector
from wecom_sandbox.load import ScanLoads
from wecom_sandbox.ratelimit import LimitConfig, RateLimiter
from wecom_sandbox.rules import TOKEN_TTL_SECONDS
from wecom_sandbox.simulation import complete_transfer
from wecom_sandbox.state import CONTACTS_SYNC, CUSTOMER_CONTACT, Corp, SandboxState


@dataclass
class QuotaSettings:
    """WeCom quotas, overridable so tests can reach them without creating 500,000 rows."""

    token_ttl_seconds: int = TOKEN_TTL_SECONDS
    contact_way_quota: int = 500_000
    temp_contact_ways_per_day: int = 100_000
    corp_tag_limit: int = 3000
    # None = WeCom's current rule: as many group messages per customer per month as the
    # month has days (OFF 92135).
    group_msg_monthly_cap: int | None = None
    contact_way_max_users: int = 100
    # Customers a member may hold; a transfer to a member at the limit ends with status 4
    # at takeover time. WeCom's figure depends on the corp's edition: None = no limit.
    member_customer_limit: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "token_ttl_seconds": self.token_ttl_seconds,
            "contact_way_quota": self.contact_way_quota,
            "temp_contact_ways_per_day": self.temp_contact_ways_per_day,
            "corp_tag_limit": self.corp_tag_limit,
            "group_msg_monthly_cap": self.group_msg_monthly_cap,
            "contact_way_max_users": self.contact_way_max_users,
            "member_customer_limit": self.member_customer_limit,
        }

    def update(self, data: dict[str, Any]) -> None:
        for name in (
            "token_ttl_seconds",
            "contact_way_quota",
            "temp_contact_ways_per_day",
            "corp_tag_limit",
            "contact_way_max_users",
        ):
            if name in data:
                setattr(self, name, int(data[name]))
        if "member_customer_limit" in data:
            limit = data["member_customer_limit"]
            self.member_customer_limit = None if limit is None else int(limit)
        if "group_msg_monthly_cap" in data:
            cap = data["group_msg_monthly_cap"]
            self.group_msg_monthly_cap = None if cap is None else int(cap)


class Sandbox:
    def __init__(self, callback_workers: int = 8) -> None:
        self.state = SandboxState()
        self.clock = SandboxClock()
        self.limiter = RateLimiter()
        self.faults = FaultInjector()
        self.quotas = QuotaSettings()
        self.callback_settings = CallbackSettings()
        self.dispatcher = CallbackDispatcher(
            self.faults, self.callback_settings, workers=callback_workers
        )
        self.scan_loads = ScanLoads()

    def now(self) -> int:
        return self.clock.timestamp()

    def emit(self, corp: Corp, kind: str, fields: dict[str, Any]) -> int:
        """Send an event to the app that receives `kind` events (customer_contact or
        contacts_sync), stamped with the sandbox clock."""
        app = corp.callback_app(kind)
        return self.dispatcher.emit(app, corp.corp_id, self.now(), fields)

    def emit_contact_event(self, corp: Corp, fields: dict[str, Any]) -> int:
        return self.emit(corp, CUSTOMER_CONTACT, {"Event": "change_external_contact", **fields})

    def emit_directory_event(self, corp: Corp, fields: dict[str, Any]) -> int:
        return self.emit(corp, CONTACTS_SYNC, {"Event": "change_contact", **fields})

    def settle(self) -> None:
        """Let the sandbox clock's consequences happen: transfers waiting 24 h complete.

        Caller holds the state lock.
        """
        now = self.now()
        for corp in self.state.corps.values():
            for transfer in corp.due_transfers(now):
                complete_transfer(self, corp, transfer, at=transfer.takeover_time)

    def reset(self) -> None:
        self.scan_loads.stop_all()
        with self.state.lock:
            self.state.corps.clear()
            self.state.tokens.clear()
            self.clock.set_offset(0.0)
            self.limiter.configure(LimitConfig())
            self.faults.configure(FaultConfig())
            self.quotas = QuotaSettings()
            self.callback_settings.update(CallbackSettings().to_json())
            self.dispatcher.clear()
