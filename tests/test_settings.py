"""Production settings refuse unsafe configurations; every check runs a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "x" * 50
GOOD_FERNET = "c2NybS10ZXN0LWVuY3J5cHRpb24ta2V5LTMyYnl0ZXM="


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "SCRM_ENV": "production",
        "DJANGO_SETTINGS_MODULE": "scrm.settings.base",
        "SECRET_KEY": GOOD_KEY,
        "SCRM_ENCRYPTION_KEYS": GOOD_FERNET,
        "DATABASE_URL": "postgres://scrm@db:5432/scrm",
        "REDIS_URL": "redis://redis:6379/0",
        "ALLOWED_HOSTS": ".scrm.example.com",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


def start_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_safe_configuration():
    result = start_settings(production_env())
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"SECRET_KEY": "<unset>"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        ({"SCRM_ENCRYPTION_KEYS": "<unset>"}, "SCRM_ENCRYPTION_KEYS must not contain"),
        ({"WECOM_SANDBOX_ENABLED": "true"}, "sandbox must not be enabled"),
        ({"DATABASE_URL": "<unset>"}, "DATABASE_URL and REDIS_URL must be set"),
    ],
)
def test_production_refuses_unsafe_configuration(overrides, reason):
    result = start_settings(production_env(**overrides))
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    assert reason in result.stderr


def test_unset_environment_means_production(tmp_path):
    # No SCRM_ENV and no .local/services.env from ./dev.sh: production, so it fails closed.
    env = production_env(
        SCRM_ENV="<unset>", SECRET_KEY="<unset>", SCRM_SERVICES_ENV=str(tmp_path / "none.env")
    )
    result = start_settings(env)
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr


def test_deployment_checks_pass_in_production():
    """Django's own security checklist (`check --deploy`): HTTPS redirect, HSTS, secure and
    HTTP-only cookies, nosniff, referrer policy, frame denial, a strong SECRET_KEY."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(SECRET_KEY="k3Yq-8vR!pZ2" * 5),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
