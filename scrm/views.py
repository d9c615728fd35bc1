from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def ping(request: HttpRequest) -> HttpResponse:
    """The cheapest view (no query of its own): the baseline of the web benchmarks."""
    return HttpResponse("pong", content_type="text/plain")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a URL no route matches: JSON under /api/ (integrators parse it), else the
    usual page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": _("No such API endpoint or object.")}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 Django raises before any view (a malformed multipart body, a suspicious header):
    JSON under /api/."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": _("Malformed request.")}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": _("Server error: the platform team has been told. Retry later.")},
            status=500,
        )
    return defaults.server_error(request)
