"""The suite runs every app's tests: an app's tests/ left out of pytest's testpaths would
silently never run in CI."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_app_with_tests_is_in_testpaths():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    testpaths = set(config["tool"]["pytest"]["ini_options"]["testpaths"])
    apps = [p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")]
    with_tests = {app.name for app in apps if any(app.glob("**/tests/__init__.py"))}
    assert with_tests <= testpaths, sorted(with_tests - testpaths)
