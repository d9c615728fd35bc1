"""A group send's page in a real browser while its templates are created: headless Chromium
keeps the page open, the dispatch runs in a background thread against a sandbox slowed to
400 ms per template (14 templates of 2 customers), and the progress bar must move through
intermediate values by itself (polling, no reload) before the page shows the send waiting
for the guides. A screenshot is kept under .local/artifacts/.

Playwright drives Debian's chromium (`./dev.sh test` installs it); it never downloads a
browser of its own.
"""

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.tests.factories import PASSWORD, UserFactory
from broadcast.dispatch import broadcast_dispatch
from broadcast.models import Broadcast, Chunk
from broadcast.tests.helpers import planned, setup_corp
from channels_qr.tests.test_browser import live_console
from tests.browser import ARTIFACTS

__all__ = ["live_console"]

TEMPLATE_LATENCY_MS = 400
READ_BAR = """() => {
  const bar = document.querySelector("[data-progress-bar]");
  const status = document.querySelector("[data-broadcast-status]");
  if (!bar || !status) return null;
  return {value: bar.value, phase: bar.getAttribute("data-phase"),
          status: status.getAttribute("data-broadcast-status"),
          text: document.querySelector("[data-progress-text]").textContent};
}"""


def _dispatch_in_background(broadcast_id: int, outcome: dict[str, Any]) -> threading.Thread:
    def run() -> None:
        try:
            with schema_context("alpha"):
                outcome["status"] = broadcast_dispatch(broadcast_id=broadcast_id)
        except Exception as exc:  # reported by the test
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    return thread


@pytest.mark.slow
@override_settings(BROADCAST_CHUNK_SIZE=2)
def test_the_progress_bar_moves_while_the_templates_are_created(
    live_console, tenant_a, wecom_sandbox, monkeypatch, chromium
):
    from playwright.sync_api import Error as PlaywrightError

    # given a confirmed group send to 27 customers: amy 20, bob 6, cat 1 → 14 templates of
    # at most 2; the test runs the dispatch itself (nothing queued for a worker)
    monkeypatch.setattr("broadcast.services._enqueue_dispatch", lambda broadcast: None)
    setup_corp(wecom_sandbox, tenant_a, amy_customers=20)
    with schema_context("alpha"):
        user = UserFactory(username="broadcast-operator", role="operator")
        broadcast = planned(name="双十一预热")
        assert broadcast.status == Broadcast.Status.DISPATCHING
    base = live_console.replace("127.0.0.1", "alpha.localhost")
    path = f"/broadcasts/{broadcast.pk}/"
    outcome: dict[str, Any] = {}
    seen: list[dict[str, Any]] = []

    wecom_sandbox.control.set_faults(
        {"externalcontact/add_msg_template": {"latency_ms": TEMPLATE_LATENCY_MS}}
    )
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/accounts/login/?next={path}", timeout=30_000)
            page.fill("#id_username", user.username)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}{path}", timeout=30_000)
            first = page.evaluate(READ_BAR)

            # when the templates are created while the page stays open
            dispatch = _dispatch_in_background(broadcast.pk, outcome)
            dispatch.start()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    reading = page.evaluate(READ_BAR)
                except PlaywrightError:
                    reading = None  # the page reloads when the status changes
                if reading is not None:
                    seen.append(reading)
                    if reading["status"] == Broadcast.Status.WAITING:
                        break
                time.sleep(0.1)
            dispatch.join(timeout=60)
            page.wait_for_selector('[data-broadcast-status="waiting"]', timeout=30_000)
            artifact = ARTIFACTS / f"broadcast-progress-{timezone.now():%Y%m%d-%H%M%S}.png"
            artifact.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(artifact), full_page=True)
            print(f"\nscreenshot of the group send's page: {artifact}")
            final_text = page.locator("[data-progress-text]").text_content()
            chunk_rows = page.locator("tr[data-chunk]").count()
    finally:
        wecom_sandbox.control.clear_faults()

    # then the bar started at 0, moved through values in between by itself, and the page
    # shows the send with the guides once every template exists
    assert "error" not in outcome, outcome
    assert outcome["status"] == Broadcast.Status.WAITING
    assert errors == []
    assert first is not None
    assert first["value"] == 0
    assert first["phase"] == "templates"
    intermediate = sorted(
        {r["value"] for r in seen if r["phase"] == "templates" and 0 < r["value"] < 100}
    )
    assert len(intermediate) >= 2, seen
    assert all(r["status"] == "dispatching" for r in seen if r["phase"] == "templates")
    with schema_context("alpha"):
        assert Chunk.objects.filter(broadcast=broadcast, status="created").count() == 14
    assert chunk_rows == 14
    assert final_text == "Customers with a final result: 0 / 27"
    assert artifact.stat().st_size > 10_000
