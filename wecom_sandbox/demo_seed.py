"""Create the demo corp in a running sandbox: stores of guides and a few hundred customers.

    python -m wecom_sandbox.demo_seed --url http://127.0.0.1:PORT --corp-id ... \\
        --secret ... --token ... --aes-key ... --callback-url ...

Run by `./dev.sh demo`. Idempotent: an existing corp is left as it is (its callback URL is
updated, since the web port may change).
"""

import argparse
import sys

from wecom_sandbox.testing import SandboxControl, SandboxControlError

STORES = ["上海南京路店", "北京三里屯店", "广州天河店"]
GUIDES_PER_STORE = 4
CUSTOMERS = 300


def seed(args: argparse.Namespace) -> str:
    control = SandboxControl(args.url)
    callback = {
        "callback_url": args.callback_url,
        "token": args.token,
        "encoding_aes_key": args.aes_key,
    }
    try:
        control.corp(args.corp_id)
    except SandboxControlError:
        pass
    else:
        control.put_app(
            args.corp_id, "customer_contact", agent_id=args.agent_id, secret=args.secret, **callback
        )
        return "the demo corp exists; callback URL updated"
    control.create_corp(
        args.corp_id,
        name="演示品牌",
        apps=[
            {
                "name": "customer_contact",
                "agent_id": args.agent_id,
                "secret": args.secret,
                **callback,
            },
        ],
    )
    guides = []
    for store_index, store in enumerate(STORES):
        department = control.add_department(args.corp_id, store)
        department_id = int(department.get("id", store_index + 2))
        for guide_index in range(GUIDES_PER_STORE):
            userid = f"guide{store_index + 1}{guide_index + 1:02d}"
            control.add_member(
                args.corp_id,
                userid,
                name=f"{store[:2]}导购{guide_index + 1}",
                department=[department_id],
                notify=False,
            )
            guides.append(userid)
    for index in range(CUSTOMERS):
        control.add_customer(
            args.corp_id,
            follows=[{"userid": guides[index % len(guides)], "add_way": 1}],
            name=f"客户{index + 1:03d}",
        )
    return f"created {len(STORES)} stores, {len(guides)} guides, {CUSTOMERS} customers"


def main() -> int:
    parser = argparse.ArgumentParser(description="Seed the demo corp in the WeCom sandbox")
    parser.add_argument("--url", required=True)
    parser.add_argument("--corp-id", required=True)
    parser.add_argument("--agent-id", type=int, default=1000002)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--aes-key", required=True)
    parser.add_argument("--callback-url", required=True)
    args = parser.parse_args()
    print(f"WeCom sandbox: {seed(args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
