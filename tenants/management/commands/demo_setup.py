"""Create (or top up) the demo: the public tenant, a platform admin and a demo brand.

Safe to run again. Refuses to run with SCRM_ENV=production.
"""

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import get_public_schema_name, schema_context

from accounts.models import User
from accounts.services import operator_create
from tenants.models import Domain, Tenant, WeComApp, WeComCorp
from tenants.services import tenant_create, wecom_app_save, wecom_corp_connect

DEMO_SCHEMA = "demo"
DEMO_CORP_ID = "wwdemo0000000001"
DEMO_OPERATORS = [("admin", "admin"), ("yunying", "operator"), ("viewer", "viewer")]
DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class Command(BaseCommand):
    help = "Create the demo tenant and logins (idempotent); --print-only prints where to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--print-only", action="store_true")
        parser.add_argument("--port", type=int, default=int(os.environ.get("SCRM_WEB_PORT", 8000)))

    def handle(self, *args: Any, print_only: bool, port: int, **options: Any) -> None:
        if settings.SCRM_ENV == "production":
            raise CommandError("demo_setup never runs with SCRM_ENV=production")
        password = os.environ.get("SCRM_DEMO_PASSWORD", "scrm-demo-2026")
        if not print_only:
            self._setup(password)
        base = settings.SCRM_BASE_DOMAIN
        public = settings.SCRM_PUBLIC_DOMAIN
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "SCRM is up. 已启动。",
                    f"  Brand console 品牌控制台: http://{DEMO_SCHEMA}.{base}:{port}/",
                    "    logins 登录: "
                    + ", ".join(f"{name} ({role})" for name, role in DEMO_OPERATORS)
                    + f"; password 密码: {password}",
                    f"  REST API docs: http://{DEMO_SCHEMA}.{base}:{port}/api/docs/",
                    f"  WeCom sandbox 企业微信沙箱: {settings.WECOM_SANDBOX_URL or '(not used)'}",
                    f"  Platform admin 平台管理: http://{public}:{port}/admin/"
                    f"  login: admin / {password}",
                    "",
                ]
            )
        )

    def _setup(self, password: str) -> None:
        public_schema = get_public_schema_name()
        with schema_context(public_schema):
            public = Tenant.objects.filter(schema_name=public_schema).first()
            if public is None:
                public = Tenant(schema_name=public_schema, name="Platform")
                public.save()
            Domain.objects.get_or_create(
                domain=settings.SCRM_PUBLIC_DOMAIN,
                defaults={"tenant": public, "is_primary": True},
            )
            if not User.objects.filter(username="admin").exists():
                User.objects.create_superuser("admin", "admin@example.com", password)
            tenant = Tenant.objects.filter(schema_name=DEMO_SCHEMA).first()
            if tenant is None:
                self.stdout.write("creating the demo tenant (schema and migrations)...")
                tenant = tenant_create(
                    name="演示品牌 Demo Brand",
                    schema_name=DEMO_SCHEMA,
                    domain=f"{DEMO_SCHEMA}.{settings.SCRM_BASE_DOMAIN}",
                )
            corp = WeComCorp.objects.filter(tenant=tenant).first()
            if corp is not None and settings.WECOM_SANDBOX_URL:
                # The sandbox's port follows the checkout; keep the demo pointed at it.
                corp.api_base_url = settings.WECOM_SANDBOX_URL
                corp.save(update_fields=["api_base_url"])
            if corp is None:
                corp = wecom_corp_connect(
                    tenant=tenant,
                    corp_id=DEMO_CORP_ID,
                    api_base_url=settings.WECOM_SANDBOX_URL or None,
                )
            if not WeComApp.objects.filter(corp=corp).exists():
                wecom_app_save(
                    corp=corp,
                    kind=WeComApp.Kind.CUSTOMER_CONTACT,
                    agent_id=1000002,
                    secret="demo-customer-contact-secret",  # noqa: S106
                    callback_token="demotoken",  # noqa: S106
                    encoding_aes_key=DEMO_AES_KEY,
                )
        with schema_context(DEMO_SCHEMA):
            for username, role in DEMO_OPERATORS:
                if not User.objects.filter(username=username).exists():
                    operator_create(username=username, password=password, role=role)
