"""The README's main command's boot path: services + migrations + demo tenant, then web.

Runs `./dev.sh setup` (what `./dev.sh demo` runs before starting its processes) against a
fresh database, then gunicorn as the demo starts it, and requests pages over HTTP.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _server_url(database: str) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{database}"


def _execute(statement: str) -> None:
    db = settings.DATABASES["default"]
    conn = psycopg2.connect(dbname="postgres", user=db["USER"], host=db["HOST"], port=db["PORT"])
    conn.autocommit = True
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = f"scrm_boot_{uuid.uuid4().hex[:8]}"
    _execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def get(port: int, host: str, path: str, cookie: str = "") -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_setup_then_web_serves_the_demo(fresh_database, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        SCRM_ENV="development",
        SCRM_SERVICES_ENV=str(tmp_path / "none.env"),
        DATABASE_URL=_server_url(fresh_database),
        REDIS_URL=settings.REDIS_URL.rsplit("/", 1)[0] + "/11",
    )

    # when the boot path runs on a fresh database, and then again (it must be safe to repeat)
    for run in ("first", "again"):
        setup = subprocess.run(
            ["bash", "dev.sh", "setup"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert setup.returncode == 0, f"{run}: " + setup.stderr[-3000:]
        assert "http://demo.localhost:" in setup.stdout

    # then gunicorn serves the demo tenant's console and the platform admin
    port = _free_port()
    web = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "scrm.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(port, "demo.localhost", "/accounts/login/")
                break
            except (ConnectionError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert status == 200
        assert "登录 SCRM 控制台" in body

        status, body = get(port, "demo.localhost", "/accounts/login/", "django_language=en")
        assert status == 200
        assert "Log in to the SCRM console" in body

        status, body = get(port, "localhost", "/admin/login/")
        assert status == 200
        assert "SCRM 平台管理" in body

        status, _ = get(port, "demo.localhost", "/static/css/console.css")
        assert status == 200
    finally:
        web.terminate()
        web.wait(timeout=15)
