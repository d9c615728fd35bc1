"""docker-compose.yml is the production shape: its environment must start the settings."""

import re
from pathlib import Path

import pytest
import yaml

from tests.test_settings import production_env, start_settings

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ["SCRM_ENV", "SECRET_KEY", "SCRM_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL"]
SERVICES = ["postgres", "redis", "web", "worker", "beat"]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def interpolate(value: str) -> str:
    """Resolve ${VAR:?msg} / ${VAR:-default} the way compose would, with test values."""
    test_values = {
        "SECRET_KEY": "k" * 50,
        "SCRM_ENCRYPTION_KEYS": production_env()["SCRM_ENCRYPTION_KEYS"],
        "POSTGRES_PASSWORD": "pw",
        "SCRM_DOMAIN": "scrm.example.com",
    }

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(3) or ""
        return test_values.get(name, default)

    return re.sub(r"\$\{(\w+)(:[?-]([^}]*))?\}", replace, str(value))


def service_env(service: str) -> dict[str, str]:
    environment = compose()["services"][service]["environment"]
    return {key: interpolate(value) for key, value in environment.items()}


def test_compose_has_the_production_services():
    assert set(SERVICES) <= set(compose()["services"])


def test_long_running_services_are_started_again_when_they_exit():
    services = compose()["services"]
    long_running = [name for name in services if name != "migrate"]
    assert {name: services[name].get("restart") for name in long_running} == dict.fromkeys(
        long_running, "unless-stopped"
    )


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_every_required_variable_is_set(service):
    env = service_env(service)
    missing = [name for name in REQUIRED if not env.get(name)]
    assert not missing
    assert env["SCRM_ENV"] == "production"


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_settings_start_with_the_compose_environment(service):
    env = {**service_env(service), "PATH": production_env()["PATH"]}
    env.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.base")
    result = start_settings(env)
    assert result.returncode == 0, result.stderr
