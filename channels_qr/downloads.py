"""QR code images and printable posters of a channel's live code (二维码与海报).

What the printed code holds: WeCom answers add_contact_way with `qr_code`, the URL of an
*image* of the way's QR code on WeCom's picture CDN, not the code's content. A code that
encoded that URL would, when scanned, open a picture of the code instead of the add-friend
page. So for a corp on WeCom itself the image is fetched here, server-side, and its module
grid is read and redrawn at print size (crisp at any size, exactly WeCom's code); should the
grid not read cleanly, WeCom's image itself is scaled. The WeCom sandbox serves no image at
its `qr_code` URLs, so for a corp on the sandbox (and a code with no corp) the URL text is
encoded instead with the same drawing rules: error correction M, a quiet zone of 4 modules.

Sizes follow the table Chinese operators know from WeChat's QR downloads (edge length,
scanning distance): 258 px (8 cm, 0.5 m: table and parcel cards), 430 px (15 cm, 1 m),
860 px (30 cm, 1.5 m: posters), 1280 px (50 cm, 2.5 m: roll-up banners).
Every image is whole modules: each module the same integer number of pixels, the spare
pixels a white margin around the quiet zone.
"""

import functools
import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import qrcode
import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont

from channels_qr.models import LiveCode

logger = logging.getLogger(__name__)

Matrix = list[list[bool]]

QR_SIZES = {"S": 258, "M": 430, "L": 860, "XL": 1280}
QR_DEFAULT_SIZE = "M"
QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks

# WeCom's picture CDN; a qr_code on any other host is not fetched (it came from WeCom, but
# a stored URL is still not a reason to let the server call anywhere).
WECOM_QR_HOSTS = (".qpic.cn", ".qq.com")
WECOM_QR_SCHEMES = ("https",)
WECOM_QR_MAX_BYTES = 2 * 1024 * 1024
WECOM_QR_TIMEOUT = (3.05, 10.0)
QR_CACHE_SECONDS = 24 * 3600

# A5 portrait at 212 dpi (148 x 209 mm in the PDF); the same pixels make an A4 at 150 dpi.
POSTER_SIZE = (1240, 1748)
POSTER_PDF_DPI = POSTER_SIZE[0] / (148 / 25.4)
POSTER_QR_SIZE = 780
POSTER_TEXT_MAX = 40
POSTER_DEFAULT_TEXT = "扫码添加导购，领取专属福利"
POSTER_BRAND_COLOR = (0, 130, 239)  # WeCom blue: the header block when no logo is set
POSTER_INK = (34, 34, 34)
POSTER_MUTED = (120, 120, 120)


class DownloadUnavailable(Exception):
    """A download that cannot be made now; the message says why, for the operator."""


# --- the code's modules -------------------------------------------------------------------


def qr_matrix_for_text(text: str) -> Matrix:
    """The module grid (without quiet zone) encoding `text`: error correction M, the
    smallest version that holds it."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    return [list(map(bool, row)) for row in code.get_matrix()]


_FINDER = [
    [r in (0, 6) or c in (0, 6) or (2 <= r <= 4 and 2 <= c <= 4) for c in range(7)]
    for r in range(7)
]


def _looks_like_a_qr_grid(matrix: Matrix) -> bool:
    n = len(matrix)
    for top, left in ((0, 0), (0, n - 7), (n - 7, 0)):
        for r in range(7):
            for c in range(7):
                if matrix[top + r][left + c] != _FINDER[r][c]:
                    return False
    # timing patterns: alternating modules between the finders, on row 6 and column 6
    return all(
        matrix[6][i] == (i % 2 == 0) and matrix[i][6] == (i % 2 == 0) for i in range(8, n - 8)
    )


def qr_matrix_from_image(image: Image.Image) -> Matrix | None:
    """Read the module grid of a clean, upright QR code image (what WeCom serves), or None
    when the grid does not check out (finders and timing patterns in place)."""
    gray = image.convert("L")
    dark = gray.point(lambda v: 255 if v < 128 else 0)
    box = dark.getbbox()
    if box is None:
        return None
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    if width < 21 or abs(width - height) > max(2, width // 50):
        return None
    pixels = dark.load()
    assert pixels is not None
    # The top-left finder's top edge is 7 dark modules in a row: the module's size.
    row = top + max(1, height // 200)
    run = 0
    while left + run < right and pixels[left + run, row]:
        run += 1
    if run < 7:
        return None
    estimate = round(width * 7 / run)
    for n in sorted(range(estimate - 2, estimate + 3), key=lambda v: abs(v - estimate)):
        if n < 21 or n > 177 or (n - 17) % 4:
            continue
        module = width / n
        matrix = [
            [
                bool(pixels[int(left + (c + 0.5) * module), int(top + (r + 0.5) * module)])
                for c in range(n)
            ]
            for r in range(n)
        ]
        if _looks_like_a_qr_grid(matrix):
            return matrix
    return None


def _host_allowed(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme in WECOM_QR_SCHEMES and any(
        host.endswith(suffix) for suffix in WECOM_QR_HOSTS
    )


def wecom_qr_image_fetch(url: str) -> Image.Image:
    """WeCom's image of a contact way's code, fetched by the server (timeout, size cap)."""
    if not _host_allowed(url):
        raise DownloadUnavailable(_("The QR code's address is not on WeCom's picture server."))
    try:
        with requests.get(url, timeout=WECOM_QR_TIMEOUT, stream=True) as response:
            response.raise_for_status()
            body = response.raw.read(WECOM_QR_MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        logger.warning("fetching the QR image %s failed: %s", url, exc)
        raise DownloadUnavailable(
            _("WeCom's QR code image could not be fetched just now; try again in a minute.")
        ) from exc
    if len(body) > WECOM_QR_MAX_BYTES:
        raise DownloadUnavailable(_("WeCom's QR code image is unexpectedly large."))
    try:
        image = Image.open(io.BytesIO(body))
        image.load()
    except (OSError, Image.DecompressionBombError) as exc:
        raise DownloadUnavailable(_("WeCom's QR code image could not be read.")) from exc
    return image


@dataclass(frozen=True)
class QrArt:
    """What to draw: a module grid (redrawn crisply at any size) or, when WeCom's image did
    not read as a grid, that image itself (scaled)."""

    modules: Matrix | None = None
    image: Image.Image | None = field(default=None, compare=False)

    def render(self, size: int) -> Image.Image:
        """A square grayscale image of `size` pixels: the code, its quiet zone, white around."""
        canvas = Image.new("L", (size, size), 255)
        if self.modules is not None:
            n = len(self.modules) + 2 * QUIET_ZONE
            module = size // n
            if module < 1:
                raise DownloadUnavailable(_("The QR code has too many modules for this size."))
            grid = Image.new("L", (n, n), 255)
            grid.putdata(
                [
                    0
                    if QUIET_ZONE <= r < n - QUIET_ZONE
                    and QUIET_ZONE <= c < n - QUIET_ZONE
                    and self.modules[r - QUIET_ZONE][c - QUIET_ZONE]
                    else 255
                    for r in range(n)
                    for c in range(n)
                ]
            )
            drawn = grid.resize((n * module, n * module), Image.Resampling.NEAREST)
        else:
            assert self.image is not None
            gray = self.image.convert("L")
            box = gray.point(lambda v: 255 if v < 128 else 0).getbbox() or (0, 0, *gray.size)
            code = gray.crop(box)
            margin = round(code.width * 0.08)  # about 4 modules of a small code
            side = code.width + 2 * margin
            framed = Image.new("L", (side, side), 255)
            framed.paste(code, (margin, margin))
            drawn = framed.resize((size, size), Image.Resampling.NEAREST)
        offset = (size - drawn.width) // 2
        canvas.paste(drawn, (offset, offset))
        return canvas


def _corp_on_wecom() -> bool:
    from tenants.models import WeComCorp

    schema = str(getattr(connection, "schema_name", ""))
    base = (
        WeComCorp.objects.filter(tenant__schema_name=schema)
        .values_list("api_base_url", flat=True)
        .first()
    )
    return base is not None and base.rstrip("/") == settings.WECOM_API_BASE_URL.rstrip("/")


def _matrix_to_text(matrix: Matrix) -> str:
    return "\n".join("".join("1" if m else "0" for m in row) for row in matrix)


def _matrix_from_text(text: str) -> Matrix:
    return [[ch == "1" for ch in row] for row in text.split("\n")]


def live_code_qr(code: LiveCode) -> QrArt:
    """What the printed code of `code` holds (see the module docstring)."""
    if not code.qr_code:
        raise DownloadUnavailable(_("This channel has no QR code from WeCom."))
    if not _corp_on_wecom():
        return QrArt(modules=qr_matrix_for_text(code.qr_code))
    # The cache key function puts the tenant's schema in front of every key.
    key = "channels:qr-grid:" + hashlib.sha256(code.qr_code.encode()).hexdigest()[:32]
    cached = cache.get(key)
    if cached:
        return QrArt(modules=_matrix_from_text(cached))
    image = wecom_qr_image_fetch(code.qr_code)
    matrix = qr_matrix_from_image(image)
    if matrix is None:
        logger.warning("the QR image of live code %s did not read as a grid", code.pk)
        return QrArt(image=image)
    cache.set(key, _matrix_to_text(matrix), QR_CACHE_SECONDS)
    return QrArt(modules=matrix)


def qr_png(art: QrArt, size_name: str) -> bytes:
    size = QR_SIZES[size_name]
    buffer = io.BytesIO()
    art.render(size).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


# --- posters -----------------------------------------------------------------------------


def cjk_font_path() -> Path:
    """The CJK font posters are drawn with (SCRM_CJK_FONT); DownloadUnavailable if absent."""
    path = Path(settings.SCRM_CJK_FONT)
    if not path.is_file():
        raise DownloadUnavailable(
            _(
                "Posters need a Chinese font, and %(path)s is not there. Run ./dev.sh setup "
                "(it installs fonts-wqy-microhei), or set SCRM_CJK_FONT to a CJK font file."
            )
            % {"path": path}
        )
    return path


@functools.lru_cache(maxsize=32)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    try:
        return _font(str(cjk_font_path()), size)
    except OSError as exc:
        raise DownloadUnavailable(
            _("The poster font %(path)s could not be loaded.") % {"path": settings.SCRM_CJK_FONT}
        ) from exc


def poster_text_check(text: str) -> str:
    """The call to action as given (`?text=`), or the default; ValueError if unusable."""
    text = " ".join(text.split())
    if not text:
        return POSTER_DEFAULT_TEXT
    if len(text) > POSTER_TEXT_MAX:
        raise ValueError(_("The poster text is at most %(n)d characters.") % {"n": POSTER_TEXT_MAX})
    return text


def _fit(text: str, width: int, size: int, smallest: int) -> tuple[ImageFont.FreeTypeFont, str]:
    """The largest font (down to `smallest`) that fits `text` in `width`; cut with … if
    even the smallest does not."""
    while True:
        font = cjk_font(size)
        if font.getlength(text) <= width:
            return font, text
        if size <= smallest:
            break
        size = max(smallest, size - 4)
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return font, text + "…"


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, lines: int) -> list[str]:
    """Break Chinese text (no spaces to break at) into at most `lines` lines of `width`."""
    out: list[str] = []
    current = ""
    for char in text:
        if font.getlength(current + char) > width and current:
            out.append(current)
            current = char.lstrip()
        else:
            current += char
    if current:
        out.append(current)
    if len(out) > lines:
        last = out[lines - 1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        out = [*out[: lines - 1], last + "…"]
    return out


Box = tuple[int, int, int, int]


@dataclass
class Poster:
    image: Image.Image
    # Where each text was drawn (left, top, right, bottom): brand, title, call_to_action.
    boxes: dict[str, Box]
    font_sizes: dict[str, int]


def _centered(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont,
    top: int,
    fill: tuple[int, int, int],
) -> Box:
    width = POSTER_SIZE[0]
    left = (width - round(font.getlength(text))) // 2
    draw.text((left, top), text, font=font, fill=fill)
    bbox = draw.textbbox((left, top), text, font=font)
    return (int(bbox[0]), int(bbox[1]), int(bbox[2]), int(bbox[3]))


def poster_render(*, art: QrArt, brand: str, title: str, text: str) -> Poster:
    """A printable poster: a brand header block, the channel's name, the code and the call
    to action, drawn with the CJK font."""
    width, height = POSTER_SIZE
    side = 90
    usable = width - 2 * side
    image = Image.new("RGB", POSTER_SIZE, "white")
    draw = ImageDraw.Draw(image)
    boxes: dict[str, Box] = {}
    sizes: dict[str, int] = {}

    header = 260
    draw.rectangle((0, 0, width, header), fill=POSTER_BRAND_COLOR)
    font, shown = _fit(brand, usable, 72, 40)
    _, ink_top, _, ink_bottom = font.getbbox(shown)
    top = round((header - (ink_bottom - ink_top)) / 2 - ink_top)
    boxes["brand"] = _centered(draw, shown, font, top, (255, 255, 255))
    sizes["brand"] = int(font.size)

    font, shown = _fit(title, usable, 80, 44)
    boxes["title"] = _centered(draw, shown, font, header + 80, POSTER_INK)
    sizes["title"] = int(font.size)

    qr_top = header + 240
    qr = art.render(POSTER_QR_SIZE).convert("RGB")
    image.paste(qr, ((width - POSTER_QR_SIZE) // 2, qr_top))

    font = cjk_font(60)
    lines = _wrap(text, font, usable, 2)
    top = qr_top + POSTER_QR_SIZE + 60
    drawn: list[Box] = []
    for line in lines:
        drawn.append(_centered(draw, line, font, top, POSTER_INK))
        top += round(font.size * 1.4)
    boxes["call_to_action"] = (
        min(b[0] for b in drawn),
        min(b[1] for b in drawn),
        max(b[2] for b in drawn),
        max(b[3] for b in drawn),
    )
    sizes["call_to_action"] = int(font.size)

    font = cjk_font(32)
    _centered(draw, "打开微信，扫一扫", font, height - 150, POSTER_MUTED)
    draw.rectangle((0, height - 40, width, height), fill=POSTER_BRAND_COLOR)
    return Poster(image=image, boxes=boxes, font_sizes=sizes)


def poster_png(poster: Poster) -> bytes:
    buffer = io.BytesIO()
    poster.image.save(buffer, "PNG", optimize=True, dpi=(150, 150))
    return buffer.getvalue()


def poster_pdf(poster: Poster) -> bytes:
    """One A5 page. Pillow stores an RGB page as JPEG: quality 95 without chroma
    subsampling keeps the code's edges and the text crisp."""
    buffer = io.BytesIO()
    poster.image.save(
        buffer, "PDF", resolution=POSTER_PDF_DPI, quality=95, subsampling=0, title="poster"
    )
    return buffer.getvalue()
