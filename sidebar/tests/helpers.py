"""A brand connected to the sandbox with guides amy and bob, their customers and a tag
catalogue, and amy signed in to the sidebar (the token a browser would hold)."""

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django_tenants.utils import schema_context

from contacts import sync
from contacts.models import SyncRun
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from sidebar.auth import TOKEN_HEADER
from tagging.services import tags_add

CORP_ID = "wwsidebarpages01"
AMY_CUSTOMER = "wmAMYPAGE0001"
BOB_CUSTOMER = "wmBOBPAGE0001"


@dataclass
class Brand:
    control: Any
    tags: dict[str, str]  # name -> WeCom tag id


def setup_brand(wecom_sandbox: Any, tenant: Any, trusted: list[str] | None = None) -> Brand:
    """amy holds AMY_CUSTOMER (bob holds them too), bob alone holds BOB_CUSTOMER; the
    corp has the tags 金卡 and VIP in the group 会员; the contact book is synced."""
    connect_to_sandbox(wecom_sandbox, tenant, CORP_ID)
    control = wecom_sandbox.control
    control.set_trusted_domains(CORP_ID, trusted or ["alpha.localhost"])
    for userid in ("amy", "bob"):
        control.add_member(CORP_ID, userid, name=f"导购{userid}", notify=False)
    control.add_customer(
        CORP_ID,
        external_userid=AMY_CUSTOMER,
        name="王小姐",
        follows=[
            {"userid": "amy", "remark": "VIP 王", "remark_mobiles": ["13800000001"]},
            {"userid": "bob"},
        ],
    )
    control.add_customer(
        CORP_ID, external_userid=BOB_CUSTOMER, name="李先生", follows=[{"userid": "bob"}]
    )
    with schema_context(tenant.schema_name):
        run = SyncRun.objects.create(trigger="test")
        assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE
        tags = {
            t.name: t.tag_id for t in tags_add(group_name="会员", names=["金卡", "VIP"], actor=None)
        }
    return Brand(control=control, tags=tags)


def sign_in(client: Any, wecom_sandbox: Any, userid: str = "amy") -> str:
    """Through the sandbox's OAuth2, as WeCom's webview would; returns the session token."""
    start = client.get("/sidebar/login/", {"next": "/sidebar/"})
    authorize = start["Location"].replace("#wechat_redirect", "")
    answer = requests.get(
        authorize, params={"sandbox_userid": userid}, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 302, answer.text
    landed = client.get(answer.headers["Location"])
    assert landed.status_code == 302
    return str(landed["Location"].split("#t=", 1)[1])


def header(token: str) -> dict[str, str]:
    return {f"HTTP_{TOKEN_HEADER.upper().replace('-', '_')}": token}


def in_english(client: Any) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def wecom_tags(control: Any, external_userid: str, userid: str = "amy") -> list[str]:
    """The tags WeCom has on `userid`'s follow of the customer."""
    follows = control.customer(CORP_ID, external_userid)["follows"]
    [follow] = [f for f in follows if f["userid"] == userid]
    return sorted(t["tag_id"] for t in follow.get("tags", []))
