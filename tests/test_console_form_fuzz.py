"""Every form of every console page, sent with the same bad value in every field (NUL,
20,000 characters, a number past any column, markup, nothing) and a bad file in every file
field: answered with the form's errors or a refusal, never a 5xx.

The pages are those of the isolation sweep's data (`twins`: one object of every model), so
forms that need an object (edit, delete, retry) are reached too.
"""

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import NoReverseMatch, reverse

from conftest import tenant_host
from tests.sweep import access_of, kwargs_for, url_patterns

pytestmark = pytest.mark.slow

BAD_VALUES = {
    "nul": "a\x00b",
    "huge": "x" * 20_000,
    "number": "99999999999999999999999",
    "negative": "-1",
    "float": "1e400",
    "empty": "",
    "markup": "<script>alert(1)</script>",
}


class Forms(HTMLParser):
    """The forms of a page: (method, action, {field name: [values]}, file field names)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, list[str]], list[str]]] = []
        self.current: tuple[str, str, dict[str, list[str]], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            method = (a.get("method") or "get").lower()
            self.current = (method, a.get("action") or "", {}, [])
            self.forms.append(self.current)
        elif self.current and tag in ("input", "textarea", "select") and a.get("name"):
            name = a["name"] or ""
            if tag == "input" and (a.get("type") or "").lower() == "file":
                self.current[3].append(name)
            elif tag == "input" and (a.get("type") or "").lower() in ("submit", "button"):
                return
            else:
                self.current[2].setdefault(name, []).append(a.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None


def test_every_console_form_survives_bad_values(twins):
    console = twins["alpha"]["console"]
    fuzzer = Client(HTTP_HOST=tenant_host("alpha"), raise_request_exception=True)
    fuzzer.cookies = console.cookies
    failures, sent, forms = [], 0, set()
    for route, name, pattern in url_patterns():
        if access_of(route, name) != "console":
            continue
        try:
            path = reverse(name, kwargs=kwargs_for(pattern, twins["values"]))
        except NoReverseMatch:
            continue
        page = console.get(path)
        if page.status_code != 200 or page.streaming or "html" not in page["Content-Type"]:
            continue
        parser = Forms()
        parser.feed(page.content.decode())
        for method, action, fields, files in parser.forms:
            target = urljoin(path, action) if action else path
            form = f"{method} {target}"
            if "logout" in target or form in forms:  # the language switch is on every page
                continue
            forms.add(form)
            for label, bad in BAD_VALUES.items():
                data: dict[str, Any] = {
                    field: bad for field in fields if field != "csrfmiddlewaretoken"
                }
                if method == "post":
                    for field in files:
                        data[field] = _upload(bad)
                sent += 1
                try:
                    if method == "post":
                        answer = fuzzer.post(target, data)
                    else:
                        answer = fuzzer.get(target, data)
                except Exception as exc:
                    failures.append(f"{method} {target} ({label}): {type(exc).__name__}: {exc}")
                    continue
                if answer.status_code >= 500:
                    failures.append(f"{method} {target} ({label}): {answer.status_code}")
    print(f"console form fuzz: {len(forms)} forms, {sent} submissions")
    assert len(forms) > 50
    assert not failures, "\n".join(failures)


def _upload(bad: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("bad.csv", bad.encode(errors="replace"), content_type="text/csv")
