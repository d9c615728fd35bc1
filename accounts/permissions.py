import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

View = Callable[..., HttpResponse]


def role_required(*roles: str) -> Callable[[View], View]:
    """Console views: the operator must be logged in and hold one of `roles`."""

    def decorator(view: View) -> View:
        @login_required
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if getattr(request.user, "role", None) not in roles:
                return render(request, "console/forbidden.html", status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
