"""The WeCom client: wechatpy's WeCom client with our base URL, tokens, limiter and errors.

    client = wecom_client(app_kind="customer_contact", priority="bulk")
    client.external_contact.get_follow_user_list()          # wechatpy's API modules work
    client.post("externalcontact/batch/get_by_user", data={...})   # paths wechatpy lacks

Every call: takes a rate-limiter slot (or raises WeComRateLimited with the time to retry),
carries a timeout, refreshes the token at most once on the token errcodes, retries
transient errors a few times with exponential backoff and jitter, and raises a typed
WeComError otherwise. Secrets and tokens never appear in errors or logs.
"""

import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import connection
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from scrm.observability.wecom_stats import call_record
from scrm.wecom.errors import (
    TOKEN_ERRCODES,
    WeComError,
    WeComPermanentError,
    WeComRateLimited,
    WeComTransientError,
    error_for_errcode,
)
from scrm.wecom.ratelimit import Priority, RateLimiter
from scrm.wecom.tokens import TokenStore

if TYPE_CHECKING:
    from tenants.models import WeComApp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppCredentials:
    """What a client needs of one corp app; built from tenants.WeComCorp / WeComApp."""

    tenant_schema: str
    corp_id: str
    app_kind: str
    secret: str = field(repr=False)
    api_base_url: str
    agent_id: int | None = None
    rate_limits: dict[str, Any] = field(default_factory=dict)


def _api_name(url_or_endpoint: str, base_url: str) -> str:
    path = urlsplit(url_or_endpoint).path if "://" in url_or_endpoint else url_or_endpoint
    base_path = urlsplit(base_url).path
    if path.startswith(base_path):
        path = path[len(base_path) :]
    return path.split("?")[0].strip("/")


class WeComClient(WeChatClient):
    def __init__(
        self,
        credentials: AppCredentials,
        *,
        priority: Priority = "bulk",
        max_wait: float = 0.0,
        max_attempts: int | None = None,
    ) -> None:
        super().__init__(
            credentials.corp_id,
            credentials.secret,
            timeout=(settings.WECOM_CONNECT_TIMEOUT, settings.WECOM_READ_TIMEOUT),
            auto_retry=False,  # wechatpy's own retry has no cap; ours refreshes once
        )
        self.credentials = credentials
        self.API_BASE_URL = credentials.api_base_url
        self.priority: Priority = priority
        self.max_wait = max_wait
        self.max_attempts = max_attempts or settings.WECOM_CALL_ATTEMPTS
        self.tokens = TokenStore(
            tenant_schema=credentials.tenant_schema,
            corp_id=credentials.corp_id,
            app_kind=credentials.app_kind,
            fetch=self._gettoken,
        )
        self.limiter = RateLimiter(
            tenant_schema=credentials.tenant_schema,
            corp_id=credentials.corp_id,
            overrides=credentials.rate_limits,
        )

    def __repr__(self) -> str:
        return f"<WeComClient {self.credentials.corp_id}/{self.credentials.app_kind}>"

    # wechatpy reads the token through this property before each call.
    @property
    def access_token(self) -> str:
        return self.tokens.get()

    def fetch_access_token(self) -> dict[str, Any]:
        return {"access_token": self.tokens.refresh(stale=self.tokens.cached())}

    def _count(self, api: str, error: WeComError | None = None) -> None:
        call_record(tenant_schema=self.credentials.tenant_schema, api=api, error=error)

    def _gettoken(self) -> tuple[str, int]:
        try:
            token = self._gettoken_call()
        except WeComError as error:
            self._count("gettoken", error)
            raise
        self._count("gettoken")
        return token

    def _gettoken_call(self) -> tuple[str, int]:
        # wechatpy's fetch_access_token hard-codes WeCom's host; ours follows the corp's base.
        api = "gettoken"
        try:
            response = self._http.get(
                self.API_BASE_URL + api,
                params={"corpid": self.credentials.corp_id, "corpsecret": self.credentials.secret},
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise WeComTransientError(api=api, errmsg="timed out") from None
        except requests.RequestException as exc:
            # The exception text holds the URL, secret included: never chain or log it.
            raise WeComTransientError(
                api=api, errmsg=f"connection failed ({type(exc).__name__})"
            ) from None
        if response.status_code >= 500:
            raise WeComTransientError(
                api=api, errmsg=f"HTTP {response.status_code}", http_status=response.status_code
            )
        try:
            result = response.json()
        except ValueError:
            raise WeComTransientError(api=api, errmsg="response is not JSON") from None
        errcode = int(result.get("errcode", 0))
        if errcode:
            raise error_for_errcode(api=api, errcode=errcode, errmsg=result.get("errmsg", ""))
        return result["access_token"], int(result.get("expires_in", 7200))

    def _take_slot(self, api: str) -> None:
        deadline = time.monotonic() + self.max_wait
        while True:
            wait = self.limiter.try_acquire(api=api, priority=self.priority)
            if not wait:
                return
            if time.monotonic() + wait > deadline:
                raise WeComRateLimited(api=api, retry_after=wait)
            time.sleep(wait)

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        api = _api_name(url_or_endpoint, self.API_BASE_URL)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = self.tokens.get()  # before the slot: a gettoken must not delay the call
            self._take_slot(api)
            call = dict(kwargs)
            params = dict(call.get("params") or {})
            params.pop("access_token", None)
            params["access_token"] = token
            call["params"] = params
            try:
                result = super()._request(method, url_or_endpoint, **call)
            except WeChatClientException as exc:
                error = self._translate(api, exc)
            except requests.Timeout:
                error = WeComTransientError(api=api, errmsg="timed out")
            except requests.RequestException as exc:
                error = WeComTransientError(
                    api=api, errmsg=f"connection failed ({type(exc).__name__})"
                )
            else:
                self._count(api)
                return result
            self._count(api, error)
            if error.errcode in TOKEN_ERRCODES and not refreshed:
                logger.info("WeCom %s: token rejected (%s), refreshing once", api, error.errcode)
                self.tokens.refresh(stale=token)
                refreshed = True
                attempt -= 1
                continue
            if error.errcode in TOKEN_ERRCODES:
                raise WeComPermanentError(
                    api=api, errcode=error.errcode, errmsg="token rejected again after refresh"
                ) from None
            retryable = error.transient and not isinstance(error, WeComRateLimited)
            if retryable and attempt < self.max_attempts:
                delay = backoff_delay(attempt)
                logger.warning("WeCom %s: %s; retry %d in %.2f s", api, error, attempt, delay)
                time.sleep(delay)
                continue
            raise error from None

    @staticmethod
    def _translate(api: str, exc: WeChatClientException) -> WeComError:
        if exc.errcode is None:
            status = getattr(exc.response, "status_code", None)
            if status is not None and status < 500 and status != 429:
                return WeComPermanentError(api=api, errmsg=f"HTTP {status}", http_status=status)
            return WeComTransientError(api=api, errmsg=f"HTTP {status}", http_status=status)
        return error_for_errcode(api=api, errcode=int(exc.errcode), errmsg=str(exc.errmsg or ""))


def backoff_delay(attempt: int, *, base: float | None = None, cap: float = 5.0) -> float:
    """Exponential backoff with full jitter: a random delay up to base * 2^(attempt-1)."""
    base = settings.WECOM_RETRY_BASE_SECONDS if base is None else base
    return random.uniform(base / 2, min(cap, base * 2 ** (attempt - 1)))  # noqa: S311


class WeComNotConnected(Exception):
    """The tenant has no WeCom corp, or not the app this needs."""


def credentials_of(app: "WeComApp") -> AppCredentials:
    """Credentials of one app row (its corp and tenant are read through it)."""
    return AppCredentials(
        tenant_schema=app.corp.tenant.schema_name,
        corp_id=app.corp.corp_id,
        app_kind=app.kind,
        secret=app.secret,
        api_base_url=app.corp.api_base_url,
        agent_id=app.agent_id,
        rate_limits=app.corp.rate_limits or {},
    )


def app_credentials(*, app_kind: str, tenant_schema: str | None = None) -> AppCredentials:
    """Credentials of the current tenant's app of `app_kind`."""
    from tenants.models import WeComApp

    schema = str(tenant_schema or getattr(connection, "schema_name", ""))
    app = (
        WeComApp.objects.select_related("corp__tenant")
        .filter(corp__tenant__schema_name=schema, kind=app_kind)
        .first()
    )
    if app is None:
        raise WeComNotConnected(f"tenant {schema!r} has no WeCom app {app_kind!r}")
    return credentials_of(app)


def wecom_client(
    *,
    app_kind: str = "customer_contact",
    priority: Priority = "bulk",
    max_wait: float = 0.0,
    tenant_schema: str | None = None,
) -> WeComClient:
    """A client for the current tenant's app."""
    return WeComClient(
        app_credentials(app_kind=app_kind, tenant_schema=tenant_schema),
        priority=priority,
        max_wait=max_wait,
    )
