from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import PASSWORD, UserFactory


def test_login_page_is_chinese_by_default(db, client_a):
    response = client_a.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en")

    assert response.status_code == 200
    body = response.content.decode()
    assert "登录 SCRM 控制台" in body
    assert 'lang="zh-hans"' in body


def test_login_page_in_english_when_selected(db, client_a):
    # the language switch posts to set_language, which sets the language cookie
    response = client_a.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302

    body = client_a.get("/accounts/login/").content.decode()

    assert "Log in to the SCRM console" in body
    assert "登录 SCRM 控制台" not in body


def test_operator_logs_in_and_sees_the_console(db, client_a):
    with schema_context("alpha"):
        UserFactory(username="wang", role="operator")

    response = client_a.post(
        "/accounts/login/", {"username": "wang", "password": PASSWORD}, follow=True
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "欢迎，wang。" in body
    assert "渠道活码" in body  # navigation for the features to come
    assert "审计日志" not in body  # admin-only entries hidden from operators


def test_wrong_password_shows_a_clear_error(db, client_a):
    with schema_context("alpha"):
        UserFactory(username="wang")

    response = client_a.post("/accounts/login/", {"username": "wang", "password": "nope"})

    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()


def test_repeated_failures_lock_the_login_on_this_tenant_only(db, client_a, client_b, settings):
    with schema_context("alpha"):
        UserFactory(username="wang")
    with schema_context("beta"):
        UserFactory(username="wang")

    # given five failed attempts on alpha
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        client_a.post("/accounts/login/", {"username": "wang", "password": "guess"})

    # when the right password is given on alpha, it is still refused for a while
    response = client_a.post("/accounts/login/", {"username": "wang", "password": PASSWORD})
    assert response.status_code == 200
    assert "登录失败次数过多" in response.content.decode()
    # and the lockout is in alpha's audit log
    with schema_context("alpha"):
        assert AuditLogEntry.objects.filter(action="login.locked").count() == 1

    # then beta's operator with the same username is not affected
    response = client_b.post("/accounts/login/", {"username": "wang", "password": PASSWORD})
    assert response.status_code == 302


def test_logout(db, client_a):
    with schema_context("alpha"):
        UserFactory(username="wang")
    client_a.post("/accounts/login/", {"username": "wang", "password": PASSWORD})

    response = client_a.post("/accounts/logout/")

    assert response.status_code == 302
    assert client_a.get("/").status_code == 302


def test_console_requires_login(db):
    response = Client(HTTP_HOST="alpha.localhost").get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
