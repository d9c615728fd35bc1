"""Connect a test tenant to a fresh corp in the running WeCom sandbox."""

from django_tenants.utils import schema_context

from tenants.models import Tenant, WeComApp, WeComCorp

SECRET = "sandbox-customer-contact-secret-0042"
SYNC_SECRET = "sandbox-contacts-sync-secret-0042"


def connect_to_sandbox(sandbox, tenant: Tenant, corp_id: str, **rate_limits) -> WeComCorp:
    sandbox.control.reset()
    sandbox.control.create_corp(
        corp_id,
        apps=[
            {"name": "customer_contact", "agent_id": 1000002, "secret": SECRET},
            {"name": "contacts_sync", "secret": SYNC_SECRET},
        ],
    )
    with schema_context("public"):
        corp = WeComCorp.objects.create(
            tenant=tenant,
            corp_id=corp_id,
            api_base_url=sandbox.api_base_url,
            rate_limits=rate_limits,
        )
        WeComApp.objects.create(
            corp=corp,
            kind="customer_contact",
            agent_id=1000002,
            secret=SECRET,
            callback_token="sandboxToken",
            encoding_aes_key="A" * 43,
        )
        WeComApp.objects.create(corp=corp, kind="contacts_sync", secret=SYNC_SECRET)
    return corp
