"""The channel page in a real browser: headless Chromium logs into the console, opens a
channel whose stats have data, and checks that ECharts drew them (the rendered series and
coloured pixels in the chart's canvas). A screenshot is kept under .local/artifacts/.

Playwright drives Debian's chromium (`./dev.sh test` installs it); it never downloads a
browser of its own.
"""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.tests.factories import PASSWORD, UserFactory
from channels_qr.models import Channel, LiveCode, WelcomeLog
from contacts.models import Relation
from contacts.tests.factories import GuideFactory, RelationFactory
from tests.browser import ARTIFACTS

ADD_BAR_RGB = (0x16, 0x77, 0xFF)  # static/channels/stats_chart.js: the adds' colour

# How many of the canvas's pixels are of the adds' bar colour, and how many are not
# background (anything drawn: axes, labels, bars, lines).
CANVAS_PIXELS = """(el) => {
  const [R, G, B] = RGB;
  const canvas = el.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const {data} = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let drawn = 0, bars = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a > 0 && (r < 245 || g < 245 || b < 245)) drawn++;
    if (a > 200 && Math.abs(r - R) < 12 && Math.abs(g - G) < 12 && Math.abs(b - B) < 12) bars++;
  }
  return {drawn, bars, width: canvas.width, height: canvas.height};
}""".replace("RGB", str(list(ADD_BAR_RGB)))


@pytest.fixture
def live_console(live_web) -> Iterator[str]:
    """`live_web`, plus a second server thread on the same committed data that serves the
    static files from the app folders (live_web serves STATIC_ROOT, which only
    `collectstatic` fills): the page's stylesheet, ECharts and the chart script."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.mark.slow
def test_the_channel_page_draws_its_stats_chart(live_console, tenant_a, chromium):
    # given a channel with adds on three of the last seven days and a deletion yesterday
    today = timezone.localdate()
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    with schema_context("alpha"):
        user = UserFactory(username="chart-viewer", role="viewer")
        channel = Channel.objects.create(name="南京路门店海报")
        LiveCode.objects.create(channel=channel, state="chbrowser01", members=["amy"])
        amy = GuideFactory(userid="amy", name="导购Amy")
        adds = {5: 4, 2: 7, 1: 2}  # days ago: adds
        for days, count in adds.items():
            for minute in range(count):
                RelationFactory(
                    guide=amy,
                    channel=channel,
                    added_at=noon - timedelta(days=days, minutes=minute),
                )
        RelationFactory(
            guide=amy,
            channel=channel,
            added_at=noon - timedelta(days=20),
            status=Relation.Status.DELETED_BY_CUSTOMER,
            deleted_at=noon - timedelta(days=1),
        )
        WelcomeLog.objects.create(
            event_id=1,
            channel=channel,
            userid="amy",
            external_userid="wmBROWSER01",
            outcome="sent",
            event_at=noon - timedelta(days=1),
        )
    start = today - timedelta(days=6)
    expected_adds = [adds.get((today - (start + timedelta(days=i))).days, 0) for i in range(7)]
    expected_deletions = [1 if i == 5 else 0 for i in range(7)]
    base = live_console.replace("127.0.0.1", "alpha.localhost")
    page_url = f"{base}/channels/{channel.pk}/?from={start.isoformat()}&to={today.isoformat()}"

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # when an operator logs in and opens the channel's page
        page.goto(f"{base}/accounts/login/?next=/channels/{channel.pk}/", timeout=30_000)
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/channels/{channel.pk}/", timeout=30_000)
        page.goto(page_url, timeout=30_000)
        chart = page.locator("#channel-chart")
        page.wait_for_selector("#channel-chart[data-rendered=true]", timeout=30_000)

        artifact = ARTIFACTS / f"channel-chart-{timezone.now():%Y%m%d-%H%M%S}.png"
        artifact.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifact), full_page=True)
        print(f"\nscreenshot of the channel page: {artifact}")

        # then ECharts holds the day's numbers...
        series = page.evaluate(
            """() => {
              const el = document.getElementById("channel-chart");
              const option = echarts.getInstanceByDom(el).getOption();
              return {
                days: option.xAxis[0].data,
                series: Object.fromEntries(option.series.map(s => [s.id, s.data])),
              };
            }"""
        )
        # ...and drew them: coloured bars in the canvas, not a blank area
        pixels = chart.evaluate(CANVAS_PIXELS)

    assert errors == []
    assert series["days"] == [(start + timedelta(days=i)).strftime("%m-%d") for i in range(7)]
    assert series["series"]["adds"] == expected_adds
    assert series["series"]["deletions"] == expected_deletions
    assert series["series"]["net"] == [
        a - d for a, d in zip(expected_adds, expected_deletions, strict=True)
    ]
    assert pixels["width"] > 300
    assert pixels["height"] > 200
    assert pixels["drawn"] > 2000, pixels
    assert pixels["bars"] > 200, pixels
    assert artifact.stat().st_size > 10_000
