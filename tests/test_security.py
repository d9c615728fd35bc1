"""Security headers, the Content-Security-Policy, CSRF on every console form."""

import re
from pathlib import Path
from typing import cast

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.tests.factories import UserFactory
from conftest import tenant_host

ROOT = Path(__file__).resolve().parent.parent
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I)


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.fixture
def operator_client(db):
    client = Client(HTTP_HOST=tenant_host("alpha"))
    with schema_context("alpha"):
        client.force_login(cast(User, UserFactory(username="sec-admin", role="admin")))
    return client


def test_console_pages_carry_the_security_headers(operator_client):
    response = operator_client.get("/")

    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no other site
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_login_page_and_api_carry_them_too(db, client_a):
    assert "script-src 'self'" in client_a.get("/accounts/login/")["Content-Security-Policy"]
    api = client_a.get("/api/v1/customers/")
    assert api.status_code == 401
    assert api["X-Content-Type-Options"] == "nosniff"


def test_no_template_has_an_inline_script_or_event_handler():
    """The policy forbids inline scripts: a page that had one would break in browsers."""
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER):
            for match in pattern.finditer(text):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert not offenders


def test_interactive_api_docs_work_under_the_policy(db, client_a):
    page = client_a.get("/api/docs/")

    assert page.status_code == 200
    assert not INLINE_SCRIPT.search(page.content.decode())


def _views(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


# CSRF protects what a browser session can do. These take no session: the REST API and its
# schema and docs (API keys in a header), the guide sidebar's JSON (a signed token in a
# header), the WeCom callback (signed by the corp's keys; its own urlconf).
CSRF_EXEMPT_PREFIXES = ("api/", "sidebar/api/")


def test_every_console_view_enforces_csrf():
    exempt = [
        route
        for route, view in _views(get_resolver("scrm.urls"))
        if getattr(view, "csrf_exempt", False) and not route.startswith(CSRF_EXEMPT_PREFIXES)
    ]
    assert not exempt


def test_a_console_form_without_the_csrf_token_is_refused(db):
    client = Client(HTTP_HOST=tenant_host("alpha"), enforce_csrf_checks=True)
    with schema_context("alpha"):
        client.force_login(cast(User, UserFactory(username="csrf-admin", role="admin")))

    response = client.post("/accounts/api-keys/", {"name": "ERP", "scope": "read"})

    assert response.status_code == 403


def test_the_sidebar_may_be_framed_by_wecom_and_load_the_corps_js_sdk(db, client_a, tenant_a):
    from tenants.models import WeComApp, WeComCorp

    sandbox = "http://127.0.0.1:45678"
    with schema_context("public"):
        corp = WeComCorp.objects.create(
            tenant=tenant_a, corp_id="wwcsp0001", api_base_url=f"{sandbox}/cgi-bin/"
        )
        WeComApp.objects.create(corp=corp, kind="customer_contact", agent_id=1, secret="s")

    page = client_a.get("/sidebar/")

    assert page.status_code == 200
    policy = directives(page["Content-Security-Policy"])
    assert "https://*.work.weixin.qq.com" in policy["frame-ancestors"]
    assert sandbox in policy["frame-ancestors"]  # the sandbox's chat window
    assert "'none'" not in policy["frame-ancestors"]
    assert policy["script-src"] == ["'self'", sandbox]  # the sandbox's jweixin.js
    assert "X-Frame-Options" not in page
