from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant: schema (with migrations), primary domain and first admin operator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--schema", required=True)
        parser.add_argument("--domain", required=True)
        parser.add_argument("--admin-username", default="")
        parser.add_argument("--admin-password", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["admin_username"] and not options["admin_password"]:
            raise CommandError("--admin-password is required with --admin-username")
        tenant = tenant_create(
            name=options["name"],
            schema_name=options["schema"],
            domain=options["domain"],
            admin_username=options["admin_username"],
            admin_password=options["admin_password"],
        )
        self.stdout.write(f"created tenant {tenant.schema_name} at {options['domain']}")
