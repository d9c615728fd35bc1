import pytest
from django_tenants.utils import schema_context

from scrm.wecom.callbacks import forget_callback_targets
from tenants.models import WeComApp, WeComCorp

CORP_ID = "wwalphacorp000001"
TOKEN = "alphaCallbackToken"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


@pytest.fixture(autouse=True)
def _fresh_callback_targets():
    forget_callback_targets()
    yield
    forget_callback_targets()


def connect_alpha(tenant) -> WeComApp:
    with schema_context("public"):
        corp, _ = WeComCorp.objects.get_or_create(tenant=tenant, defaults={"corp_id": CORP_ID})
        app, _ = WeComApp.objects.get_or_create(
            corp=corp,
            kind="customer_contact",
            defaults={
                "agent_id": 1000002,
                "secret": "alpha-secret",
                "callback_token": TOKEN,
                "encoding_aes_key": AES_KEY,
            },
        )
    return app


@pytest.fixture
def alpha_app(db, tenant_a) -> WeComApp:
    return connect_alpha(tenant_a)
