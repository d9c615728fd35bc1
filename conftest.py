"""Test fixtures shared by every app.

- Two test tenants (alpha, beta) and the public tenant are created once per session,
  committed in the test database, and reached by host exactly as in production.
- Default `db` tests run in a transaction that is rolled back.
- `committed_db` tests write for real (a Celery worker or another process must see the
  data) and the tenants' data is truncated afterwards.
- `celery_worker` starts one real worker process per session against Redis.
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import get_public_schema_name, schema_context
from hypothesis import settings as hypothesis_settings

from scrm.tenant_tasks import QUEUES

pytest_plugins = ["tests.browser", "tests.sweep"]  # `chromium`; `twins`

# Property tests replay the same examples on every run: a commit that passed once passes
# again, and a fault once found stays found. SCRM_HYPOTHESIS_RANDOM=1 (which bench/api_fuzz.py
# sets on full runs) draws new examples to explore.
hypothesis_settings.register_profile(
    "suite", derandomize=os.environ.get("SCRM_HYPOTHESIS_RANDOM") != "1", database=None
)
hypothesis_settings.load_profile("suite")

ROOT = Path(__file__).resolve().parent
TEST_TENANTS = {"alpha": "Alpha 品牌", "beta": "Beta 品牌"}
PUBLIC_HOST = "localhost"
KEPT_TABLES = {"django_migrations", "django_content_type", "auth_permission"}


def tenant_host(schema: str) -> str:
    return f"{schema}.localhost"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.test.utils import setup_databases, teardown_databases

    from accounts.models import AuditLogEntry
    from tenants.models import Domain, Tenant
    from tenants.services import tenant_create

    created = None
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django sets the test database up only when some test asks for `db`;
            # a session of `committed_db` tests alone must never reach the real database.
            created = setup_databases(verbosity=0, interactive=False, aliases={"default": {}})
        connection.set_schema_to_public()
        public, _ = Tenant.objects.get_or_create(
            schema_name=get_public_schema_name(), defaults={"name": "Platform"}
        )
        Domain.objects.get_or_create(
            domain=PUBLIC_HOST, defaults={"tenant": public, "is_primary": True}
        )
        for schema, name in TEST_TENANTS.items():
            if not Tenant.objects.filter(schema_name=schema).exists():
                tenant_create(name=name, schema_name=schema, domain=tenant_host(schema))
        AuditLogEntry.objects.all().delete()
    redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    yield
    if created is not None:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0)


@pytest.fixture(autouse=True)
def _back_to_public_schema() -> Iterator[None]:
    yield
    connection.set_schema_to_public()


def _tenant(schema: str):
    from tenants.models import Tenant

    with schema_context(get_public_schema_name()):
        return Tenant.objects.get(schema_name=schema)


@pytest.fixture
def tenant_a(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return _tenant("alpha")


@pytest.fixture
def tenant_b(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return _tenant("beta")


@pytest.fixture
def client_a() -> Client:
    return Client(HTTP_HOST=tenant_host("alpha"))


@pytest.fixture
def client_b() -> Client:
    return Client(HTTP_HOST=tenant_host("beta"))


@pytest.fixture
def public_client() -> Client:
    return Client(HTTP_HOST=PUBLIC_HOST)


@pytest.fixture(autouse=True)
def _clear_test_cache(request) -> Iterator[None]:
    yield
    if "django_db_setup" in request.fixturenames:
        redis.from_url(settings.CACHES["default"]["LOCATION"]).flushdb()


def _truncate_tenant_data() -> None:
    schemas = [*TEST_TENANTS, get_public_schema_name()]
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
            tables = [row[0] for row in cursor.fetchall()]
            if schema == get_public_schema_name():
                tables = [t for t in tables if t.startswith(("accounts_", "tenants_wecom"))]
            tables = [t for t in tables if t not in KEPT_TABLES]
            if tables:
                names = ", ".join(f'"{schema}"."{t}"' for t in tables)
                cursor.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Real commits (for workers and other processes); tenant data truncated afterwards."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        try:
            yield
        finally:
            connection.set_schema_to_public()
            _truncate_tenant_data()
            purge_shared_queues()


def purge_shared_queues() -> None:
    """Drop tasks still waiting on the shared queues: they name rows that were just
    truncated, and ids restart, so a late one could act on the next test's rows."""
    from scrm.celery import app

    app.control.purge()


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False


def celery_worker_start(log_path: Path, **env_overrides: str) -> subprocess.Popen:
    """Start one real Celery worker process (all queues) on the test database and Redis;
    returns once it is ready. Extra environment variables override settings; with
    SCRM_QUEUE_PREFIX the worker consumes queues of its own (see `own_queues`)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "scrm.settings.test",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        **env_overrides,
    }
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "scrm",
                "worker",
                "-P",
                "solo",
                "-Q",
                ",".join(env_overrides.get("SCRM_QUEUE_PREFIX", "") + q for q in QUEUES),
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b" ready." not in log_path.read_bytes()[offset:]:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("celery worker did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)
    return process


celery_worker_start.__test__ = False


@contextmanager
def own_queues() -> Iterator[dict[str, str]]:
    """Tasks this test queues go to queues only its own workers consume (started with the
    returned environment), never to the session's `celery_worker`."""
    from django.test import override_settings

    prefix = f"t{uuid.uuid4().hex[:8]}-"
    with override_settings(SCRM_QUEUE_PREFIX=prefix):
        yield {"SCRM_QUEUE_PREFIX": prefix}


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, tmp_path_factory) -> Iterator[subprocess.Popen]:
    """One real Celery worker process (all queues) for the session."""
    purge_shared_queues()  # tasks queued by tests that ran without a worker
    process = celery_worker_start(tmp_path_factory.mktemp("celery") / "worker.log")
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def wecom_sandbox():
    """One WeCom sandbox process for the session, reached over HTTP like WeCom."""
    from wecom_sandbox.testing import SandboxProcess

    sandbox = SandboxProcess.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def live_web(committed_db) -> Iterator[str]:
    """The platform served over HTTP in a thread, on committed data (for the sandbox's
    callbacks and other processes)."""
    from django.test.testcases import LiveServerThread, _StaticFilesHandler

    thread = LiveServerThread("127.0.0.1", _StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
