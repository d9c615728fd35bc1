"""One sandbox subprocess for the whole sandbox test session; each test gets its own corp
and starts from WeCom's default limits with no faults."""

import uuid

import pytest

from wecom_sandbox.testing import SandboxProcess, wechatpy_client
from wecom_sandbox.tests.receiver import start_receiver


@pytest.fixture(scope="session")
def sandbox():
    with SandboxProcess.start() as process:
        yield process


@pytest.fixture
def control(sandbox):
    control = sandbox.control
    yield control
    control.clear_faults()
    control.set_limits(defaults=True)
    control.set_callback_settings(timeout_seconds=5, attempts=3, retry_interval_seconds=1)


@pytest.fixture
def corp(control):
    """A fresh corp: customer_contact + contacts_sync apps, 3 guides in 2 stores."""
    corp_id = "ww" + uuid.uuid4().hex[:16]
    data = control.create_corp(corp_id=corp_id, name="测试企业")
    control.seed(corp_id, members=3, departments=2)
    return data


@pytest.fixture
def secret(corp):
    return corp["apps"]["customer_contact"]["secret"]


@pytest.fixture
def client(sandbox, corp, secret):
    return wechatpy_client(sandbox.api_base_url, corp["corp_id"], secret, timeout=10)


@pytest.fixture
def receiver():
    receiver = start_receiver()
    yield receiver
    receiver.stop()
