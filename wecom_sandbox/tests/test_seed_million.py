"""A million customers (one follow each) fit: seeded in tens of seconds, well under 2 GB."""

import time

import pytest

from wecom_sandbox.testing import SandboxProcess, wechatpy_client

pytestmark = pytest.mark.slow

CUSTOMERS = 1_000_000


def test_seed_one_million_customers(record_property):
    with SandboxProcess.start() as sandbox:
        control = sandbox.control
        corp = control.create_corp(corp_id="wwmillion")
        baseline = control.stats()["rss_mb"]

        started = time.perf_counter()
        seeded = control.seed("wwmillion", members=1000, departments=50, customers=CUSTOMERS)
        seconds = time.perf_counter() - started
        stats = control.stats()

        counts = stats["corps"]["wwmillion"]
        assert counts["customers"] == CUSTOMERS
        assert counts["follows"] == CUSTOMERS
        record_property("seed_seconds", round(seconds, 2))
        record_property("rss_mb", stats["rss_mb"])
        print(
            f"\nseeded {CUSTOMERS:,} customers in {seconds:.1f}s "
            f"(server {seeded['seconds']}s); RSS {baseline} MB -> {stats['rss_mb']} MB "
            f"(peak {stats['max_rss_mb']} MB)"
        )
        assert seconds < 60
        assert stats["rss_mb"] < 2048

        # Still answers like WeCom at that size.
        client = wechatpy_client(
            sandbox.api_base_url, "wwmillion", corp["apps"]["customer_contact"]["secret"]
        )
        started = time.perf_counter()
        page = client.post(
            "externalcontact/batch/get_by_user", data={"userid_list": ["guide00500"], "limit": 100}
        )
        assert len(page["external_contact_list"]) == 100
        assert page["next_cursor"]
        external_userid = page["external_contact_list"][0]["external_contact"]["external_userid"]
        assert client.external_contact.get(external_userid)["follow_user"][0]["userid"] == (
            "guide00500"
        )
        assert time.perf_counter() - started < 2
