"""QR downloads, printable posters, and the demo traffic command.

Codes are read back with zxing-cpp (a real decoder), the way a phone would read them.
"""

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
import zxingcpp
from django.conf import settings
from django.core.management import call_command
from django_tenants.utils import schema_context
from PIL import Image, ImageDraw

from accounts.tests.factories import UserFactory
from channels_qr import downloads
from channels_qr.downloads import (
    POSTER_BRAND_COLOR,
    POSTER_DEFAULT_TEXT,
    POSTER_INK,
    POSTER_SIZE,
    QR_SIZES,
    QUIET_ZONE,
    QrArt,
    cjk_font,
    poster_render,
    qr_matrix_for_text,
    qr_matrix_from_image,
)
from channels_qr.models import Channel, LiveCode
from channels_qr.services import ChannelData, GuideEntry, channel_create, channel_delete
from channels_qr.tests.helpers import CORP_ID, setup_corp
from tenants.models import WeComCorp

ROOT = Path(__file__).resolve().parents[2]


def login(client, role: str):
    with schema_context("alpha"):
        user = UserFactory(role=role)
        client.force_login(user)
    return user


def decoded(png: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def glyph(font, char: str) -> bytes:
    image = Image.new("L", (100, 100), 0)
    ImageDraw.Draw(image).text((10, 10), char, font=font, fill=255)
    return image.tobytes()


def dark_box(image: Image.Image) -> tuple[int, int, int, int]:
    box = image.convert("L").point(lambda v: 255 if v < 128 else 0).getbbox()
    assert box is not None
    return box


@pytest.fixture
def guides(db, wecom_sandbox, tenant_a):
    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        yield guides


@pytest.fixture
def channel(guides) -> Channel:
    data = ChannelData(
        name="南京路/门店海报",
        guides=[GuideEntry(guides["amy"].pk), GuideEntry(guides["bob"].pk)],
        welcome_text="{客户昵称}，你好！我是{导购姓名}。",
    )
    return channel_create(data=data, actor=None)


# --- QR codes -----------------------------------------------------------------------------


def test_a_viewer_downloads_the_code_in_each_print_size(channel, client_a):
    code = LiveCode.objects.get(channel=channel)
    login(client_a, "viewer")
    modules = len(qr_matrix_for_text(code.qr_code))

    for name, pixels in QR_SIZES.items():
        response = client_a.get(f"/channels/{channel.pk}/qr.png?size={name}")

        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(response.content))
        assert image.size == (pixels, pixels)
        # a phone reads the code back; in the sandbox it holds WeCom's qr_code URL
        assert decoded(response.content) == [code.qr_code]
        # whole modules, each the same size, and a quiet zone of at least 4 of them
        left, top, right, _bottom = dark_box(image)
        module, rest = divmod(right - left, modules)
        assert rest == 0
        assert min(left, top, pixels - right) >= QUIET_ZONE * module
        # the Chinese name survives in the RFC 5987 filename; the "/" does not
        disposition = response["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert f"filename*=utf-8''{quote(f'南京路_门店海报-{name}.png')}" in disposition


def test_the_default_size_is_m_and_an_unknown_size_is_refused(channel, client_a):
    login(client_a, "operator")

    default = client_a.get(f"/channels/{channel.pk}/qr.png")
    unknown = client_a.get(f"/channels/{channel.pk}/qr.png?size=XXL")

    assert Image.open(io.BytesIO(default.content)).size == (430, 430)
    assert unknown.status_code == 400


def test_downloads_need_a_login(channel, client_a):
    response = client_a.get(f"/channels/{channel.pk}/qr.png")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_another_tenant_and_a_deleted_channel_get_404(channel, client_a, client_b):
    with schema_context("beta"):
        client_b.force_login(UserFactory(role="admin"))
    for url in ("qr.png", "poster.png", "poster.pdf"):
        assert client_b.get(f"/channels/{channel.pk}/{url}").status_code == 404

    login(client_a, "admin")
    assert client_a.get(f"/channels/{channel.pk}/qr.png").status_code == 200
    channel_delete(channel=channel, actor=None)
    for url in ("qr.png", "poster.png", "poster.pdf"):
        assert client_a.get(f"/channels/{channel.pk}/{url}").status_code == 404


# --- a corp on WeCom itself: the printed code is WeCom's, read from its image --------------


def test_the_grid_of_a_wecom_style_image_is_read_back():
    content = "https://work.weixin.qq.com/ca/cawcde1234567890abcdef"
    wecom_like = QrArt(modules=qr_matrix_for_text(content)).render(430)
    # scaled by a non-integer factor and saved as a JPEG, the way CDN pictures come
    blurred = io.BytesIO()
    wecom_like.resize((397, 397), Image.Resampling.BICUBIC).convert("RGB").save(
        blurred, "JPEG", quality=70
    )

    assert qr_matrix_from_image(Image.open(blurred)) == qr_matrix_for_text(content)
    assert qr_matrix_from_image(Image.new("L", (300, 300), 255)) is None


def test_a_picture_that_is_not_a_clean_grid_is_scaled_as_it_is():
    content = "https://work.weixin.qq.com/ca/cawcde1234567890abcdef"
    tilted = (
        QrArt(modules=qr_matrix_for_text(content))
        .render(430)
        .rotate(4, resample=Image.Resampling.BICUBIC, fillcolor=255)
    )
    assert qr_matrix_from_image(tilted) is None

    scaled = io.BytesIO()
    QrArt(image=tilted).render(860).save(scaled, "PNG")

    assert Image.open(scaled).size == (860, 860)
    assert decoded(scaled.getvalue()) == [content]


class _Picture(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def picture_server(monkeypatch):
    """A stand-in for WeCom's picture CDN (the sandbox serves no images)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Picture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(downloads, "WECOM_QR_SCHEMES", ("http",))
    monkeypatch.setattr(downloads, "WECOM_QR_HOSTS", ("127.0.0.1",))
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_on_wecom_the_code_holds_what_wecom_image_holds(db, tenant_a, client_a, picture_server):
    content = "https://work.weixin.qq.com/ca/cawcde0000000000000001"
    picture = io.BytesIO()
    QrArt(modules=qr_matrix_for_text(content)).render(430).save(picture, "PNG")
    _Picture.body = picture.getvalue()
    with schema_context("public"):
        WeComCorp.objects.create(tenant=tenant_a, corp_id="wwonwecom0001")  # WeCom's URL
    with schema_context("alpha"):
        channel = Channel.objects.create(name="包裹卡")
        LiveCode.objects.create(
            channel=channel, state="chtest1", config_id="c1", qr_code=f"{picture_server}/wwpic/1/0"
        )
    login(client_a, "viewer")

    response = client_a.get(f"/channels/{channel.pk}/qr.png?size=XL")

    assert response.status_code == 200
    assert decoded(response.content) == [content]  # not the picture's URL
    # the grid is cached (per tenant): WeCom's CDN going away does not stop downloads
    _Picture.body = b"not a picture"
    assert decoded(client_a.get(f"/channels/{channel.pk}/qr.png?size=S").content) == [content]


def test_on_wecom_a_picture_off_wecom_servers_is_not_fetched(db, tenant_a, client_a):
    with schema_context("public"):
        WeComCorp.objects.create(tenant=tenant_a, corp_id="wwonwecom0002")
    with schema_context("alpha"):
        channel = Channel.objects.create(name="门店海报")
        LiveCode.objects.create(
            channel=channel, state="chtest2", config_id="c2", qr_code="https://example.com/x.png"
        )
    login(client_a, "viewer")

    response = client_a.get(f"/channels/{channel.pk}/poster.png")

    assert response.status_code == 503
    assert "WeCom" in response.content.decode() or "企业微信" in response.content.decode()


# --- posters ------------------------------------------------------------------------------


def test_the_poster_png_is_a5_with_the_brand_block_and_a_readable_code(channel, client_a):
    code = LiveCode.objects.get(channel=channel)
    login(client_a, "viewer")

    response = client_a.get(f"/channels/{channel.pk}/poster.png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    poster = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert poster.size == POSTER_SIZE
    assert poster.getpixel((10, 10)) == POSTER_BRAND_COLOR
    assert decoded(response.content) == [code.qr_code]
    assert "poster.png" in response["Content-Disposition"]


def test_the_call_to_action_is_drawn_with_the_cjk_font():
    font = cjk_font(60)
    # a font without Chinese draws every character as the same "missing glyph" box
    assert glyph(font, "扫") != glyph(font, "码")
    art = QrArt(modules=qr_matrix_for_text("https://example.com/q"))

    poster = poster_render(art=art, brand="演示品牌", title="门店海报", text=POSTER_DEFAULT_TEXT)

    left, top, right, bottom = poster.boxes["call_to_action"]
    drawn = poster.image.crop((left, top, right, bottom)).convert("L")
    dark = sum(drawn.histogram()[:128])
    assert dark > 0.05 * drawn.width * drawn.height
    # the same text drawn alone with the CJK font, at the same place, is the same pixels
    alone = Image.new("RGB", POSTER_SIZE, "white")
    width = round(font.getlength(POSTER_DEFAULT_TEXT))
    origin_left = (POSTER_SIZE[0] - width) // 2
    origin_top = top - ImageDraw.Draw(alone).textbbox((0, 0), POSTER_DEFAULT_TEXT, font=font)[1]
    ImageDraw.Draw(alone).text(
        (origin_left, origin_top), POSTER_DEFAULT_TEXT, font=font, fill=POSTER_INK
    )
    assert alone.crop((left, top, right, bottom)).convert("L").tobytes() == drawn.tobytes()


def test_the_poster_text_can_be_changed_up_to_40_characters(channel, client_a):
    login(client_a, "operator")

    default = client_a.get(f"/channels/{channel.pk}/poster.png")
    custom = client_a.get(f"/channels/{channel.pk}/poster.png", {"text": "到店出示，立减20元"})
    too_long = client_a.get(f"/channels/{channel.pk}/poster.png", {"text": "福" * 41})

    assert custom.status_code == 200
    assert custom.content != default.content
    assert too_long.status_code == 400
    assert "40" in too_long.content.decode()


def test_the_poster_pdf_is_one_a5_page(channel, client_a):
    login(client_a, "viewer")

    response = client_a.get(f"/channels/{channel.pk}/poster.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    [box] = re.findall(rb"/MediaBox \[ ?0 0 ([\d.]+) ([\d.]+) ?\]", response.content)
    width_mm, height_mm = (float(v) / 72 * 25.4 for v in box)
    assert (round(width_mm), round(height_mm)) == (148, 209)  # A5 is 148 x 210


def test_without_the_cjk_font_a_poster_is_a_503_saying_what_to_install(channel, client_a, settings):
    settings.SCRM_CJK_FONT = "/nonexistent/wqy-microhei.ttc"
    login(client_a, "viewer")

    poster = client_a.get(f"/channels/{channel.pk}/poster.pdf")
    code = client_a.get(f"/channels/{channel.pk}/qr.png")

    assert poster.status_code == 503
    assert poster["Content-Type"].startswith("text/plain")
    assert "/nonexistent/wqy-microhei.ttc" in poster.content.decode()
    assert "fonts-wqy-microhei" in poster.content.decode()
    assert code.status_code == 200  # the bare code needs no font


# --- demo traffic -------------------------------------------------------------------------


def test_demo_traffic_creates_demo_channels_then_scans_and_deletes(guides, wecom_sandbox):
    control = wecom_sandbox.control
    out = io.StringIO()

    call_command(
        "demo_traffic",
        schema="alpha",
        rate=25,
        delete_share=0.4,
        seconds=1.5,
        wait=5,
        seed=7,
        stdout=out,
    )

    log = out.getvalue()
    channels = {c.name: c for c in Channel.objects.all()}
    assert set(channels) == {"门店海报", "包裹卡"}
    assert all("{导购姓名}" in c.welcome_text for c in channels.values())
    states = set(LiveCode.objects.values_list("state", flat=True))
    scans = re.findall(r"scan: \S+ scanned \S+ and was added by ([\w-]+) \(([\w-]+)\)", log)
    deletions = re.findall(r"delete: customer ([\w-]+) deleted guide ([\w-]+)", log)
    assert scans, log
    assert deletions, log
    deleted = set(deletions)
    for userid, external_userid in scans:
        follows = control.customer(CORP_ID, external_userid)["follows"]
        if (external_userid, userid) in deleted:
            assert userid not in [f["userid"] for f in follows]
        else:
            [follow] = follows
            assert follow["state"] in states
    assert re.search(rf"stopped: {len(scans)} scans, {len(deletions)} deletions", log)


def test_demo_traffic_refuses_a_tenant_without_wecom(db, tenant_b):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no WeCom"):
        call_command("demo_traffic", schema="beta", seconds=0.1, stdout=io.StringIO())


@pytest.mark.slow
def test_demo_traffic_stops_cleanly_on_sigterm(committed_db, wecom_sandbox, tenant_a):
    from conftest import test_database_url

    guides = setup_corp(wecom_sandbox, tenant_a)
    with schema_context("alpha"):
        channel_create(
            data=ChannelData(name="门店海报", guides=[GuideEntry(guides["amy"].pk)]), actor=None
        )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "scrm.settings.test",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo_traffic", "--schema", "alpha", "--rate", "10"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while not any("scan:" in line for line in lines):
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            lines.append(line)

        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)

    assert process.returncode == 0, rest
    assert "stopped:" in rest
