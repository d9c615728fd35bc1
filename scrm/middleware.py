from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _

from scrm.api.parsers import holds_nul


class CookieLanguageMiddleware:
    """Chinese unless the user picked another language (the language cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language; brand operators
    expect the console in Chinese whatever their browser says, with English one click away.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, settings.LANGUAGE_CODE)
        if language not in self.supported:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


class RefuseNulQueryMiddleware:
    """400 for a query string holding a NUL character, before any view reads it.

    PostgreSQL text cannot hold NUL, so such a value would fail deep inside a query; no
    real parameter ever carries one. Forms, serializers, the API's JSON parser and the
    sidebar's endpoints refuse NUL in bodies.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if holds_nul(dict(request.GET.lists())):
            message = _("Request parameters may not contain NUL characters.")
            if "/api/" in request.path:
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
