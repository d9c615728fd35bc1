from django.utils import translation
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from scrm.wecom.selftest import wecom_self_test
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tenants.models import WeComApp

CORP_ID = "wwselftest00001"


def results_by_check(results):
    return {(r.app_kind, r.check): r for r in results}


def test_everything_passes_on_a_correct_setup(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)

    results = wecom_self_test(tenant=tenant_a)

    assert [r for r in results if not r.ok and r.check != "callback"] == []
    callback = results_by_check(results)[("customer_contact", "callback")]
    assert callback.ok
    assert f"/wecom/callback/{CORP_ID}/customer_contact/" in callback.message
    with schema_context("public"):
        assert AuditLogEntry.objects.filter(action="wecom.self_test").exists()


def test_wrong_secret_and_missing_permission_are_explained(db, wecom_sandbox, tenant_a):
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    app = WeComApp.objects.get(kind="contacts_sync", corp__corp_id=CORP_ID)
    app.secret = "not-the-right-secret"
    app.save()
    wecom_sandbox.control.set_faults(
        {"externalcontact/get_follow_user_list": {"error_rate": 1.0, "errcode": 48002}}
    )
    try:
        with translation.override("zh-hans"):
            results = results_by_check(wecom_self_test(tenant=tenant_a))
    finally:
        wecom_sandbox.control.clear_faults()

    wrong_secret = results[("contacts_sync", "credentials")]
    assert not wrong_secret.ok
    assert wrong_secret.errcode == 40001
    assert "Secret 错误" in wrong_secret.message
    permission = results[("customer_contact", "permission")]
    assert not permission.ok
    assert permission.errcode == 48002
    assert "可调用接口的应用" in permission.message
    assert results[("customer_contact", "credentials")].ok


def test_untrusted_ip_names_our_outgoing_ip(db, wecom_sandbox, tenant_a, settings):
    settings.WECOM_OUTGOING_IP = "203.0.113.7"
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    wecom_sandbox.control.set_faults(
        {"externalcontact/get_follow_user_list": {"error_rate": 1.0, "errcode": 60020}}
    )
    try:
        results = results_by_check(wecom_self_test(tenant=tenant_a))
    finally:
        wecom_sandbox.control.clear_faults()

    assert "203.0.113.7" in results[("customer_contact", "permission")].message


def test_tenant_without_corp(db, tenant_b):
    [result] = wecom_self_test(tenant=tenant_b)
    assert not result.ok
    assert result.check == "corp"
