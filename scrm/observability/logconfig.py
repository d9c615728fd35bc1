"""The LOGGING setting (imported by the settings, so it imports nothing of Django).

`LOG_FORMAT=json` (the default in production) writes one JSON object per line with
`timestamp, level, logger, message, tenant, request_id` (and `exc_info` on errors);
`plain` writes the same fields as text for a developer's terminal.
"""

from typing import Any

JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(tenant)s %(request_id)s"
PLAIN_FORMAT = "%(asctime)s %(levelname)s [%(tenant)s %(request_id)s] %(name)s %(message)s"


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING setting."""
    formatters: dict[str, Any] = {
        "plain": {"format": PLAIN_FORMAT},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": JSON_FORMAT,
            "rename_fields": {"asctime": "timestamp", "levelname": "level", "name": "logger"},
            "json_ensure_ascii": False,
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "scrm.observability.logs.ContextFilter"}},
        "formatters": formatters,
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # urllib3 logs request URLs at DEBUG, and gettoken's URL carries the corp secret.
            "urllib3": {"level": "WARNING"},
        },
    }
