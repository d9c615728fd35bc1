"""Request-wide guards and settings applied before any view runs."""

import pytest
from django_tenants.utils import schema_context

from accounts.tests.factories import bearer, make_api_key
from accounts.tests.test_console import login


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/audit-log/?action=%00",  # filters read straight from the query string
        "/wecom/events/?status=x%00",
        "/customers/?q=%00",
        "/broadcasts/new/?segment=%00",
        "/customers/?%00=1",  # in a name too
    ],
)
def test_console_refuses_nul_in_the_query_string(db, client_a, url):
    login(client_a, "admin")

    response = client_a.get(url)

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_api_answers_nul_in_the_query_string_in_json(db, client_a):
    with schema_context("alpha"):
        _, raw_key = make_api_key()

    response = client_a.get("/api/v1/customers/?q=a&q=%00", **bearer(raw_key))

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_ordinary_query_strings_pass(db, client_a):
    login(client_a, "admin")

    assert client_a.get("/accounts/audit-log/?action=settings.changed").status_code == 200
