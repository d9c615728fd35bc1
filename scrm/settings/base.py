"""The one settings module: everything comes from environment variables.

SCRM_ENV selects the safety net, not the behaviour: `production` (the default, so a forgotten
variable fails closed) refuses to start with DEBUG on, the default SECRET_KEY or encryption
key, or the WeCom sandbox enabled. `development` (the demo) and `test` relax those checks.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from scrm.observability.logconfig import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# Written by ./dev.sh when it starts the project-local PostgreSQL and Redis; variables
# already in the environment win, and an explicit production environment never reads it.
_services_env = Path(
    env.str("SCRM_SERVICES_ENV", default=str(BASE_DIR / ".local" / "services.env"))
)
if _services_env.exists() and env.str("SCRM_ENV", default="") != "production":
    env.read_env(str(_services_env), overwrite=False)

SCRM_ENV = env.str("SCRM_ENV", default="production")
if SCRM_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured(
        f"SCRM_ENV must be production, development or test, not {SCRM_ENV!r}"
    )

INSECURE_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
# A Fernet key that is public by being in the repository: fine for the demo, refused in prod.
INSECURE_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZHVjdGk="

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)
# Comma-separated Fernet keys; the first encrypts, all decrypt (rotation).
SCRM_ENCRYPTION_KEYS = env.list("SCRM_ENCRYPTION_KEYS", default=[INSECURE_ENCRYPTION_KEY])

# The host of the platform admin (public schema); tenants live at <slug>.<SCRM_BASE_DOMAIN>.
SCRM_PUBLIC_DOMAIN = env.str("SCRM_PUBLIC_DOMAIN", default="localhost")
SCRM_BASE_DOMAIN = env.str("SCRM_BASE_DOMAIN", default=SCRM_PUBLIC_DOMAIN)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[SCRM_PUBLIC_DOMAIN, f".{SCRM_BASE_DOMAIN}", "127.0.0.1"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The WeCom sandbox is a separate local process imitating WeCom; never in production.
WECOM_SANDBOX_ENABLED = env.bool("WECOM_SANDBOX_ENABLED", default=False)
WECOM_SANDBOX_URL = env.str("WECOM_SANDBOX_URL", default="")
WECOM_API_BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin/"
# Every WeCom call: (connect, read) timeouts, attempts for transient errors, backoff base.
WECOM_CONNECT_TIMEOUT = env.float("WECOM_CONNECT_TIMEOUT", default=3.05)
WECOM_READ_TIMEOUT = env.float("WECOM_READ_TIMEOUT", default=10.0)
WECOM_CALL_ATTEMPTS = env.int("WECOM_CALL_ATTEMPTS", default=3)
# How often a handover waiting for WeCom's 24-hour takeover reads its results.
HANDOVER_POLL_SECONDS = env.int("HANDOVER_POLL_SECONDS", default=600)
# A worker's claim on a handover or a batch; a killed worker's work resumes after it.
HANDOVER_LEASE_SECONDS = env.int("HANDOVER_LEASE_SECONDS", default=120)
# Group sends: a worker's claim on a broadcast or a template chunk; recipients per template
# (WeCom allows 10,000); how often results are read while guides send.
BROADCAST_LEASE_SECONDS = env.int("BROADCAST_LEASE_SECONDS", default=120)
BROADCAST_CHUNK_SIZE = env.int("BROADCAST_CHUNK_SIZE", default=10_000)
BROADCAST_SYNC_SECONDS = env.int("BROADCAST_SYNC_SECONDS", default=300)
# Prefix of the Celery queue names (empty in production; tests give a worker its own).
SCRM_QUEUE_PREFIX = env.str("SCRM_QUEUE_PREFIX", default="")
# Outbound webhooks: seconds per request (no redirect is followed); the delays between
# attempts of a failed delivery (seconds, about a day in all: 10 attempts); failed
# deliveries in a row that disable an endpoint; whether targets may be on private or
# loopback networks (SSRF: off in production unless the brand's systems live there); days
# an event and its delivery log are kept; a worker's claim on a delivery.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_RETRY_SCHEDULE = env.list(
    "WEBHOOK_RETRY_SCHEDULE",
    cast=float,
    default=[30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800],
)
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=5)
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool(
    "WEBHOOK_ALLOW_PRIVATE_TARGETS", default=SCRM_ENV != "production"
)
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=120)
# How long a guide stays signed in to the sidebar after WeCom's OAuth2.
SIDEBAR_SESSION_SECONDS = env.int("SIDEBAR_SESSION_SECONDS", default=8 * 3600)
WECOM_RETRY_BASE_SECONDS = env.float("WECOM_RETRY_BASE_SECONDS", default=0.5)
# WeCom's documented limits (per API): (limit, window seconds). `safety` keeps us under
# them; `welcome_reserve` is the share only welcome messages may use. A tenant's
# WeComCorp.rate_limits overrides any of these keys.
WECOM_RATE_LIMITS = {
    "per_corp": [(10_000, 60), (150_000, 3600)],
    "per_ip": [(20_000, 60), (600_000, 3600)],
    "safety": 0.9,
    "welcome_reserve": 0.2,
}
# The outgoing IP this deployment calls WeCom from (the platform-wide limiter key; shown
# to operators when WeCom answers 60020 "IP not trusted").
WECOM_OUTGOING_IP = env.str("WECOM_OUTGOING_IP", default="127.0.0.1")

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
# Everything that holds brand data lives in the brand's schema, including operator accounts
# and sessions, so a login on one tenant's host can never reach another tenant.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "accounts",
    "contacts",
    "tagging",
    "channels_qr",
    "broadcast",
    "handover",
    "sidebar",
    "dashboard",
    "orders",
    "lifecycle",
    "webhooks",
    "privacy",
    "scrm.wecom",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "scrm.urls_public"
ROOT_URLCONF = "scrm.urls"
AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "scrm.observability.logs.RequestIdMiddleware",
    "tenants.middleware.TenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "scrm.middleware.CookieLanguageMiddleware",
    "scrm.middleware.RefuseNulQueryMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.console",
                "webhooks.context_processors.webhook_notice",
            ],
        },
    },
]

WSGI_APPLICATION = "scrm.wsgi.application"

DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default="postgres://postgres@127.0.0.1:5432/scrm",
        engine="django_tenants.postgresql_backend",
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# PostgreSQL's JIT compiles any query its planner costs above 500,000: every segment count
# over a million relations. Compiling took 0.7 s of a 0.8 s OR-segment (bench/segments.py)
# and never paid for itself in these short queries.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
# SET search_path once per schema switch (each request switches at least once), not before
# every query.
TENANT_LIMIT_SET_CALLS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        # Every cache key starts with the schema of the tenant it belongs to.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": "scrm",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Failed console logins per username and per client address before a cool-down.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SCRM_ENV == "production")
SESSION_COOKIE_SAMESITE = "Lax"
# An operator's console session lasts a working day.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True

# HTTPS and headers. Behind the reverse proxy (docker-compose), the proxy terminates TLS and
# says so in X-Forwarded-Proto; HSTS and the redirect to HTTPS are on in production.
if env.bool("SCRM_TRUST_X_FORWARDED_PROTO", default=SCRM_ENV == "production"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SCRM_ENV == "production")
# /healthz and /ping answer load balancers over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^ping$"]
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if SCRM_ENV == "production" else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Submitting the platform's domain to browsers' preload list is the operator's decision (it
# binds every subdomain for good), hence a setting, off by default, and its check silenced.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content Security Policy (django-csp): scripts only from this site (no inline script
# anywhere: pages pass data through json_script), no plugins, no framing except the guide
# sidebar (sidebar.views adds WeCom's client and the corp's JS-SDK origin). Inline styles
# are allowed (charts set them).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", "https:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Origins allowed to frame the guide sidebar: WeCom's clients (and, in the demo and tests,
# the WeCom sandbox's chat window, added from the corp's API base URL).
SIDEBAR_FRAME_ANCESTORS = env.list(
    "SIDEBAR_FRAME_ANCESTORS",
    default=["https://work.weixin.qq.com", "https://*.work.weixin.qq.com"],
)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".local" / "media")
MEDIA_URL = "/media/"
# Channel posters are drawn with this CJK font (./dev.sh installs fonts-wqy-microhei).
SCRM_CJK_FONT = env.str("SCRM_CJK_FONT", default="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.APIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.HasAPIKeyScope"],
    "DEFAULT_PAGINATION_CLASS": "scrm.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "scrm.api.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "scrm.api.parsers.NulRefusingJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.APIKeyRateThrottle"],
}
# Requests per API key (per tenant); over it the API answers 429 with Retry-After.
API_KEY_RATE = env.str("API_KEY_RATE", default="1200/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "SCRM API",
    "DESCRIPTION": "Per-tenant REST API. Authenticate with `Authorization: Bearer <API key>`; "
    "keys are created in the console under API 密钥 / API keys.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "scrm.api.schema_hooks.document_common_errors",
    ],
    # Several models have a `status`; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "RelationStatusEnum": "contacts.models.Relation.Status",
        "GuideStatusEnum": "contacts.models.Guide.Status",
        "GroupChatStatusEnum": "contacts.models.GroupChat.Status",
        "SyncRunStatusEnum": "contacts.models.SyncRun.Status",
        "WelcomeScopeEnum": "channels_qr.models.WelcomeMessage.Scope",
        "OrderStatusEnum": "orders.models.Order.Status",
    },
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE

# Every record carries the tenant and the request (or task) id; JSON lines in production.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if SCRM_ENV == "production" else "plain")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
# Workers log through LOGGING too (Celery would otherwise install its own format).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Platform health (the admin's health page and /metrics).
SCRM_METRICS_TOKEN = env.str("SCRM_METRICS_TOKEN", default="")
HEALTH_CALLBACK_LAG_WINDOW_SECONDS = env.int("HEALTH_CALLBACK_LAG_WINDOW_SECONDS", default=900)
HEALTH_CALLBACK_LAG_ALARM_SECONDS = env.int("HEALTH_CALLBACK_LAG_ALARM_SECONDS", default=60)
HEALTH_WECOM_ERROR_RATE_ALARM = env.float("HEALTH_WECOM_ERROR_RATE_ALARM", default=0.05)
HEALTH_WECOM_ERROR_MIN_CALLS = env.int("HEALTH_WECOM_ERROR_MIN_CALLS", default=20)
HEALTH_SYNC_STALE_HOURS = env.int("HEALTH_SYNC_STALE_HOURS", default=36)

if SCRM_ENV == "production":
    problems = []
    if DEBUG:
        problems.append("DEBUG must be off")
    if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 32:
        problems.append("SECRET_KEY must be set to a random value of 32+ characters")
    if INSECURE_ENCRYPTION_KEY in SCRM_ENCRYPTION_KEYS:
        problems.append("SCRM_ENCRYPTION_KEYS must not contain the development key")
    if WECOM_SANDBOX_ENABLED:
        problems.append("the WeCom sandbox must not be enabled")
    if "DATABASE_URL" not in env.ENVIRON or "REDIS_URL" not in env.ENVIRON:
        problems.append("DATABASE_URL and REDIS_URL must be set")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems))
