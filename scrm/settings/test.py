"""Test settings: only overrides of scrm.settings.base."""

import os

os.environ.setdefault("SCRM_ENV", "test")

from scrm.settings.base import *  # noqa: F403
from scrm.settings.base import REDIS_URL

# Tests use their own Redis databases (cache 9, broker 10), so a demo on the same server is
# not disturbed and flushing the cache between tests never touches the broker.
# SCRM_TEST_SLOT=1, 2 or 3 gives another test session its own database and Redis databases,
# so sessions can run side by side on one checkout. Redis has 16 databases: 0 is the demo's,
# 5-8 the benchmarks', so slot 3 takes 15 and 4.
_slot = int(os.environ.get("SCRM_TEST_SLOT", "0"))
_cache_db, _broker_db = {0: (9, 10), 1: (11, 12), 2: (13, 14), 3: (15, 4)}[_slot]
_redis_server = REDIS_URL.rsplit("/", 1)[0]
CACHES["default"]["LOCATION"] = f"{_redis_server}/{_cache_db}"  # noqa: F405
CELERY_BROKER_URL = f"{_redis_server}/{_broker_db}"
if _slot:
    DATABASES["default"]["TEST"] = {"NAME": f"test_scrm_{_slot}"}  # noqa: F405
ALLOWED_HOSTS = [".localhost", "localhost", "testserver", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
MEDIA_ROOT = BASE_DIR / ".local" / "test-media"  # noqa: F405
