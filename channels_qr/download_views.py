"""Console downloads of a channel's QR code and poster (any role may download).

A download that cannot be made (no CJK font on the server, WeCom's image unreachable) is a
503 with the reason in plain text, never a stack trace; a channel of another tenant, a
deleted one, or one without a code is a 404.
"""

import re

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.models import User
from accounts.permissions import role_required
from channels_qr.downloads import (
    QR_DEFAULT_SIZE,
    QR_SIZES,
    DownloadUnavailable,
    live_code_qr,
    poster_pdf,
    poster_png,
    poster_render,
    poster_text_check,
    qr_png,
)
from channels_qr.models import Channel, LiveCode

ANY_ROLE = (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER)
_UNSAFE_IN_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def _live_channel(pk: int) -> tuple[Channel, LiveCode]:
    channel = Channel.objects.filter(pk=pk, deleted_at__isnull=True).first()
    if channel is None:
        raise Http404
    code = channel.live_codes.exclude(qr_code="").order_by("pk").first()
    if code is None:
        raise Http404
    return channel, code


def _unavailable(exc: DownloadUnavailable) -> HttpResponse:
    return HttpResponse(
        str(exc),
        status=503,
        content_type="text/plain; charset=utf-8",
        headers={"Retry-After": "60"},
    )


def _file(body: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    # RFC 6266 / 5987: an ASCII fallback plus filename*=UTF-8'' for the Chinese name.
    header = content_disposition_header(True, filename)
    if header:
        response["Content-Disposition"] = header
    response["Cache-Control"] = "private, max-age=300"
    return response


def _filename(channel: Channel, suffix: str) -> str:
    name = _UNSAFE_IN_FILENAME.sub("_", channel.name).strip(" .") or f"channel-{channel.pk}"
    return f"{name}-{suffix}"


@require_GET
@role_required(*ANY_ROLE)
def qr_download(request: HttpRequest, pk: int) -> HttpResponse:
    channel, code = _live_channel(pk)
    size = request.GET.get("size", QR_DEFAULT_SIZE).upper()
    if size not in QR_SIZES:
        message = _("The size is one of %(sizes)s.") % {"sizes": ", ".join(QR_SIZES)}
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    try:
        body = qr_png(live_code_qr(code), size)
    except DownloadUnavailable as exc:
        return _unavailable(exc)
    return _file(body, content_type="image/png", filename=_filename(channel, f"{size}.png"))


def _poster(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    channel, code = _live_channel(pk)
    try:
        text = poster_text_check(request.GET.get("text", ""))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    brand = getattr(getattr(request, "tenant", None), "name", "") or channel.name
    try:
        poster = poster_render(art=live_code_qr(code), brand=brand, title=channel.name, text=text)
    except DownloadUnavailable as exc:
        return _unavailable(exc)
    if kind == "pdf":
        return _file(
            poster_pdf(poster),
            content_type="application/pdf",
            filename=_filename(channel, "poster.pdf"),
        )
    return _file(
        poster_png(poster), content_type="image/png", filename=_filename(channel, "poster.png")
    )


@require_GET
@role_required(*ANY_ROLE)
def poster_png_download(request: HttpRequest, pk: int) -> HttpResponse:
    return _poster(request, pk, "png")


@require_GET
@role_required(*ANY_ROLE)
def poster_pdf_download(request: HttpRequest, pk: int) -> HttpResponse:
    return _poster(request, pk, "pdf")
