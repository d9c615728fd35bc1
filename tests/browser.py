"""Headless Chromium for the browser tests: Playwright drives Debian's chromium (`./dev.sh
test` installs both); it never downloads a browser of its own.

The `chromium` fixture (registered in the root conftest) skips the test when either is
missing, and otherwise gives a launcher of a browser that resolves the tenants' hosts
(alpha.localhost, beta.localhost) to the test servers on 127.0.0.1."""

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

ARTIFACTS = Path(settings.BASE_DIR) / ".local" / "artifacts"  # screenshots of the tests


def chromium_path() -> str | None:
    for candidate in (os.environ.get("SCRM_CHROMIUM", ""), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


@pytest.fixture
def chromium() -> Callable[[], AbstractContextManager[Any]]:
    """`with chromium() as browser:` launches it. Launch it after the test's database
    work: Playwright's sync API runs an event loop, in which Django refuses the ORM."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is a dev dependency: ./dev.sh test installs it"
    )
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "chromium is not installed: ./dev.sh test installs it (apt-get install chromium)"
        )

    @contextmanager
    def launch() -> Iterator[Any]:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                args=[
                    "--host-resolver-rules=MAP alpha.localhost 127.0.0.1, "
                    "MAP beta.localhost 127.0.0.1",
                    "--disable-gpu",
                    "--disable-background-networking",
                ],
            )
            try:
                yield browser
            finally:
                browser.close()

    return launch
