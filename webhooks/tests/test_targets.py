"""The SSRF guard with WEBHOOK_ALLOW_PRIVATE_TARGETS off (production's default): only http(s)
URLs whose host is public, checked when saving and again at delivery time."""

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from webhooks.delivery import delivery_send
from webhooks.models import Delivery
from webhooks.services import WebhookInputError, endpoint_create, endpoint_test
from webhooks.targets import TargetRefused, url_check
from webhooks.tests.helpers import Receiver, make_endpoint

guarded = override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)


@guarded
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://240.0.0.1/hook",  # reserved
    ],
)
def test_private_loopback_and_reserved_addresses_are_refused(url):
    with pytest.raises(TargetRefused, match="public addresses"):
        url_check(url)


@guarded
@pytest.mark.parametrize("url", ["http://93.184.216.34/hook", "https://1.1.1.1:8443/a?b=c"])
def test_a_public_literal_address_is_accepted(url):
    url_check(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://93.184.216.34/hook", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("http:///hook", "no host"),
        ("https://user:pw@93.184.216.34/", "user name or password"),
        ("http://93.184.216.34:99999/", "not a valid URL"),
        ("not a url", "Only http:// and https://"),
    ],
)
def test_only_plain_http_urls_are_accepted_whatever_the_setting(url, message):
    with pytest.raises(TargetRefused, match=message):
        url_check(url)


def test_private_targets_are_allowed_in_the_tests_and_the_demo():
    url_check("http://127.0.0.1:8000/hook")  # the default outside production


@guarded
def test_saving_a_private_target_is_refused_with_the_reason(db, tenant_a):
    with schema_context("alpha"), pytest.raises(WebhookInputError) as refused:
        endpoint_create(url="http://10.0.0.8/hook", event_types=["customer.added"])

    assert refused.value.field == "url"
    assert "10.0.0.8" in str(refused.value)


def test_a_target_that_turned_private_is_refused_at_delivery_time(db, tenant_a):
    with Receiver() as receiver, schema_context("alpha"):
        # saved while it was allowed (or while its name resolved to a public address)
        endpoint, _ = make_endpoint(receiver.url)
        delivery = endpoint_test(endpoint=endpoint)

        with guarded:
            sent = delivery_send(delivery_id=delivery.pk)

        assert receiver.requests == []
        delivery.refresh_from_db()
        assert sent.status == Delivery.Status.PENDING  # retried later: DNS may change back
        [attempt] = delivery.attempt_log.all()
        assert attempt.failure == "refused_target"
        assert "127.0.0.1" in attempt.error
