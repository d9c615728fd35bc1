from django_tenants.utils import schema_context

from accounts.tests.factories import UserFactory
from scrm.wecom.tests.sandbox_setup import SECRET, connect_to_sandbox

CORP_ID = "wwconsole000001"


def login(client, role="admin"):
    with schema_context("alpha"):
        client.force_login(UserFactory(role=role))


def test_admin_sees_apps_and_runs_the_self_test(db, client_a, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    login(client_a)

    page = client_a.get("/wecom/connection/").content.decode()
    assert CORP_ID in page
    assert f"/wecom/callback/{CORP_ID}/customer_contact/" in page
    assert SECRET not in page
    assert SECRET[-4:] in page

    wecom_sandbox.control.set_faults(
        {"externalcontact/get_follow_user_list": {"error_rate": 1.0, "errcode": 48002}}
    )
    try:
        result = client_a.post("/wecom/connection/").content.decode()
    finally:
        wecom_sandbox.control.clear_faults()
    assert "企业ID 和 Secret 正确" in result
    assert "errcode 48002" in result


def test_operator_cannot_open_the_connection_page(db, client_a):
    login(client_a, role="operator")
    assert client_a.get("/wecom/connection/").status_code == 403


def test_page_without_corp(db, client_b):
    with schema_context("beta"):
        client_b.force_login(UserFactory(role="admin"))
    assert "尚未连接企业微信" in client_b.get("/wecom/connection/").content.decode()
