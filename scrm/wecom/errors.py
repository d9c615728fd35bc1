"""WeCom errors, classified once.

- transient: retry with backoff (system busy, frequency limit, 5xx, timeouts, connection);
- auth: the access token is bad; refresh it once and retry the call;
- permanent: fix data or configuration; record errcode and meaning, do not retry.

Branch on errcode, never on errmsg (WeCom's own advice).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.utils import timezone
from django.utils.translation import get_language

from scrm.tenant_tasks import Throttled

Kind = Literal["transient", "auth", "permanent"]


@dataclass(frozen=True)
class ErrcodeInfo:
    kind: Kind
    zh: str
    en: str


ERRCODES: dict[int, ErrcodeInfo] = {
    -1: ErrcodeInfo("transient", "企业微信系统繁忙", "WeCom is busy"),
    6000: ErrcodeInfo("transient", "数据版本冲突（并发修改）", "data version conflict"),
    45009: ErrcodeInfo("transient", "接口调用超过频率限制", "API call frequency exceeded"),
    45033: ErrcodeInfo("transient", "接口并发调用超过限制", "too many concurrent calls"),
    41096: ErrcodeInfo(
        "transient", "欢迎语正在由其他应用发送", "welcome message being sent by another app"
    ),
    40014: ErrcodeInfo("auth", "access_token 无效", "invalid access_token"),
    42001: ErrcodeInfo("auth", "access_token 已过期", "access_token expired"),
    41001: ErrcodeInfo("auth", "缺少 access_token", "access_token missing"),
    40001: ErrcodeInfo(
        "permanent", "Secret 错误：请核对应用的 Secret", "invalid secret: check the app's Secret"
    ),
    40013: ErrcodeInfo("permanent", "企业ID 错误", "invalid corp id"),
    40091: ErrcodeInfo(
        "permanent", "Secret 无效（可能属于其他企业）", "secret invalid (another corp's?)"
    ),
    48002: ErrcodeInfo(
        "permanent",
        "接口无权限：请在「客户联系 → 可调用接口的应用」中加入此应用",
        "no API permission: add the app under Customer Contact → apps allowed to call the API",
    ),
    60011: ErrcodeInfo(
        "permanent",
        "无权限操作此成员/部门：请检查应用的可见范围",
        "no privilege for this member or department: check the app's visible range",
    ),
    60020: ErrcodeInfo(
        "permanent",
        "调用 IP 不在企业可信 IP 列表中",
        "the caller's IP is not in the corp's trusted IP list",
    ),
    40003: ErrcodeInfo("permanent", "成员 UserID 无效", "invalid UserID"),
    60111: ErrcodeInfo("permanent", "成员 UserID 不存在", "UserID not found"),
    40058: ErrcodeInfo("permanent", "参数不合法", "invalid parameter"),
    40096: ErrcodeInfo("permanent", "外部联系人 ID 无效", "invalid external userid"),
    84061: ErrcodeInfo("permanent", "不存在外部联系人关系", "no external-contact relationship"),
    84074: ErrcodeInfo("permanent", "没有外部联系人权限", "no external-contact permission"),
    84071: ErrcodeInfo(
        "permanent",
        "外部联系人授权码无效（已使用或已过期）",
        "invalid external-contact code (used or expired)",
    ),
    # WeCom's 2020 global table lists 41050 for an invalid welcome code; the sandbox answers
    # 84071 for an unknown, expired or used one (UNCONFIRMED which one WeCom sends).
    41050: ErrcodeInfo("permanent", "欢迎语 code 无效或已过期", "invalid or expired welcome code"),
    41051: ErrcodeInfo(
        "permanent", "客户已开始聊天，欢迎语已送达", "customer already chatting (welcome done)"
    ),
    41035: ErrcodeInfo("permanent", "缺少外部联系人 ID", "external_userid missing"),
    41037: ErrcodeInfo("permanent", "缺少联系方式类型", "contact way type missing"),
    40098: ErrcodeInfo("permanent", "成员尚未实名认证", "member not real-name verified"),
    81013: ErrcodeInfo(
        "permanent", "成员/部门/标签全部无效或无权限", "all user/department/tag ids invalid"
    ),
    81017: ErrcodeInfo(
        "permanent", "群主过滤范围过大（超过 1000 人）", "owner filter range too large"
    ),
    90500: ErrcodeInfo("permanent", "群主并未离职", "chat owner has not resigned"),
    40029: ErrcodeInfo(
        "permanent", "OAuth code 无效（已使用或已过期）", "invalid OAuth code (used or expired)"
    ),
    40128: ErrcodeInfo(
        "permanent", "客户 90 天内已转接两次", "customer already transferred twice in 90 days"
    ),
    40129: ErrcodeInfo("permanent", "客户正在转接中", "customer is being transferred"),
    40097: ErrcodeInfo("permanent", "成员尚未离职", "the member has not resigned"),
    40130: ErrcodeInfo(
        "permanent", "原跟进人与接替成员不能相同", "handover and takeover are the same member"
    ),
    90502: ErrcodeInfo("permanent", "群主已离职", "chat owner has resigned"),
    90504: ErrcodeInfo("permanent", "群主未改变", "chat owner unchanged"),
    40007: ErrcodeInfo(
        "permanent", "media_id 无效（临时素材已过期？）", "invalid media_id (expired media?)"
    ),
    50002: ErrcodeInfo(
        "permanent", "成员不在应用的权限范围内", "member outside the app's permission range"
    ),
}

TOKEN_ERRCODES = frozenset(code for code, info in ERRCODES.items() if info.kind == "auth")


def errcode_kind(errcode: int) -> Kind:
    """Unknown errcodes are permanent: retrying an unknown error only repeats it."""
    info = ERRCODES.get(errcode)
    return info.kind if info else "permanent"


def errcode_meaning(errcode: int | None) -> str:
    info = ERRCODES.get(errcode) if errcode is not None else None
    if info is None:
        return ""
    language = get_language() or "zh-hans"
    return info.en if language.startswith("en") else info.zh


class WeComError(Exception):
    """A failed WeCom call: errcode (None for HTTP/network failures), errmsg, meaning."""

    transient = False

    def __init__(
        self,
        *,
        api: str,
        errcode: int | None = None,
        errmsg: str = "",
        http_status: int | None = None,
    ) -> None:
        self.api = api
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status
        super().__init__(str(self))

    @property
    def meaning(self) -> str:
        return errcode_meaning(self.errcode)

    def __str__(self) -> str:
        code = f"errcode {self.errcode}" if self.errcode is not None else "no errcode"
        meaning = f" ({self.meaning})" if self.meaning else ""
        return f"WeCom {self.api}: {code}{meaning}: {self.errmsg}".rstrip(": ")


class WeComPermanentError(WeComError):
    """Fix data or configuration; retrying will not help."""


class WeComTransientError(WeComError):
    """Retry later with backoff."""

    transient = True


class WeComRateLimited(WeComTransientError, Throttled):
    """Our limiter (or WeCom's 45009) says wait: retry at `retry_at`.

    A tenant task that raises it is rescheduled with that countdown (scrm.tenant_tasks).
    """

    def __init__(self, *, api: str, retry_after: float, errcode: int | None = None) -> None:
        self.retry_after = max(retry_after, 0.0)
        self.retry_at: datetime = timezone.now() + timedelta(seconds=self.retry_after)
        super().__init__(
            api=api,
            errcode=errcode,
            errmsg=f"rate limited, retry at {self.retry_at:%H:%M:%S} (in {self.retry_after:.1f} s)",
        )


def error_for_errcode(*, api: str, errcode: int, errmsg: str) -> WeComError:
    if errcode == 45009:
        # WeCom blocks a minute window for the rest of the minute.
        return WeComRateLimited(api=api, retry_after=60.0, errcode=errcode)
    if errcode_kind(errcode) == "transient":
        return WeComTransientError(api=api, errcode=errcode, errmsg=errmsg)
    return WeComPermanentError(api=api, errcode=errcode, errmsg=errmsg)
