"""The dashboard in a real browser: headless Chromium logs into the console and opens the
home page of a tenant with history; every chart must be drawn (coloured pixels in its
canvas) with the page's numbers (read back from the ECharts instances). A screenshot is
saved as .local/artifacts/dashboard.png.

Playwright drives Debian's chromium (`./dev.sh test` installs it); it never downloads a
browser of its own.
"""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.tests.factories import PASSWORD, UserFactory
from broadcast.models import Broadcast
from channels_qr.models import Channel
from channels_qr.tests.test_browser import live_console
from contacts.models import Guide, Store
from dashboard.aggregates import dashboard_backfill
from dashboard.tests.helpers import at, relate
from lifecycle.stages import customer_stages_recompute
from tests.browser import ARTIFACTS

__all__ = ["live_console"]

CHARTS = ("chart-growth", "chart-channels", "chart-funnel", "chart-stages")

# Pixels of the chart's canvas that are drawn (not background), and how many distinct
# colours they use (a chart is more than its axes).
CANVAS_PIXELS = """(el) => {
  const canvas = el.querySelector("canvas");
  if (!canvas) return {drawn: 0, colours: 0, width: 0, height: 0};
  const {data} = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let drawn = 0;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a > 200 && (r < 235 || g < 235 || b < 235)) {
      drawn++;
      colours.add((r >> 4) + "," + (g >> 4) + "," + (b >> 4));
    }
  }
  return {drawn, colours: colours.size, width: canvas.width, height: canvas.height};
}"""

OPTIONS = """() => Object.fromEntries(CHARTS.map(id => {
  const option = echarts.getInstanceByDom(document.getElementById(id)).getOption();
  return [id, {
    axis: (option.xAxis && option.xAxis[0] && option.xAxis[0].data) || [],
    series: Object.fromEntries(option.series.map(s => [s.id, s.data]))
  }];
}))""".replace("CHARTS", json.dumps(CHARTS))


@pytest.mark.slow
def test_the_dashboard_draws_its_charts(live_console, tenant_a, chromium):
    # given two stores' guides with adds through two channels over the last week, some
    # deletions, stage counts of two days and a group send this week
    today = timezone.localdate()
    with schema_context("alpha"):
        user = UserFactory(username="dashboard-viewer", role="viewer")
        north = Store.objects.create(department_id=11, name="北京路店")
        south = Store.objects.create(department_id=12, name="南京路店")
        amy = Guide.objects.create(userid="amy", name="导购Amy", store=north)
        ben = Guide.objects.create(userid="ben", name="导购Ben", store=south)
        poster = Channel.objects.create(name="门店海报")
        parcel = Channel.objects.create(name="包裹卡")
        adds = {6: 3, 5: 5, 3: 8, 2: 4, 1: 6}  # days ago: adds
        for days, count in adds.items():
            for n in range(count):
                relate(
                    amy if n % 2 else ben,
                    added=at(today - timedelta(days=days), 9 + n),
                    channel=poster if n % 3 else parcel,
                )
        for days in (4, 2):
            relate(
                ben,
                added=at(today - timedelta(days=50)),
                status="deleted_by_customer",
                ended=at(today - timedelta(days=days)),
            )
        relate(amy, added=at(today - timedelta(days=50)))
        Broadcast.objects.create(name="周末活动", audience="segment", status="waiting")
        dashboard_backfill()
        customer_stages_recompute(now=timezone.now() - timedelta(days=1))
        customer_stages_recompute()
    start = today - timedelta(days=6)
    base = live_console.replace("127.0.0.1", "alpha.localhost")

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # when an operator logs in and opens the last 7 days
        page.goto(f"{base}/accounts/login/?next=/", timeout=30_000)
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/", timeout=30_000)
        page.goto(f"{base}/?from={start.isoformat()}&to={today.isoformat()}", timeout=30_000)
        for chart in CHARTS:
            page.wait_for_selector(f"#{chart}[data-rendered=true]", timeout=30_000)

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        artifact = ARTIFACTS / "dashboard.png"
        page.screenshot(path=str(artifact), full_page=True)
        print(f"\nscreenshot of the dashboard: {artifact}")

        # then every chart holds the numbers and drew them
        options = page.evaluate(OPTIONS)
        pixels = {chart: page.locator(f"#{chart}").evaluate(CANVAS_PIXELS) for chart in CHARTS}

    assert errors == []
    growth = options["chart-growth"]
    assert growth["axis"] == [(start + timedelta(days=i)).strftime("%m-%d") for i in range(7)]
    expected_adds = [adds.get((today - (start + timedelta(days=i))).days, 0) for i in range(7)]
    assert growth["series"]["adds"] == expected_adds
    assert growth["series"]["deleted_by_customer"] == [0, 0, 1, 0, 1, 0, 0]
    assert growth["series"]["net"] == [
        a - d for a, d in zip(expected_adds, [0, 0, 1, 0, 1, 0, 0], strict=True)
    ]
    channels = options["chart-channels"]["series"]
    assert sorted(channels["adds"]) == [10, 16]  # n % 3 == 0 went to the parcel card
    funnel = options["chart-funnel"]["series"]["funnel"]
    assert [item["value"] for item in funnel] == [26, 0, 0, 0]  # all new (added within 7 days)
    stages = options["chart-stages"]["series"]
    assert stages["new"][-3:] == [None, 26, 26]  # counted yesterday and today only
    assert (stages["dormant"][-1], stages["lost"][-1]) == (1, 2)
    for chart, found in pixels.items():
        assert found["width"] > 300, (chart, found)
        assert found["height"] > 200, (chart, found)
        assert found["drawn"] > 3000, (chart, found)
        assert found["colours"] >= 3, (chart, found)
    assert artifact.stat().st_size > 30_000
