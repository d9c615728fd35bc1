"""Start a full contact sync for one tenant (queued for the workers, or run here)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from contacts.models import SyncRun
from contacts.services import SyncAlreadyRunning, sync_start
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Queue a full sync of a tenant's guides, customers and group chats with WeCom."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schema", required=True, help="the tenant's schema name")
        parser.add_argument(
            "--if-never", action="store_true", help="only if this tenant was never synced"
        )
        parser.add_argument(
            "--here", action="store_true", help="run it in this process instead of a worker"
        )

    def handle(self, *args: Any, schema: str, if_never: bool, here: bool, **options: Any) -> None:
        if not Tenant.objects.filter(schema_name=schema).exclude(schema_name="public").exists():
            raise CommandError(f"no tenant with schema {schema!r}")
        with schema_context(schema):
            if if_never and SyncRun.objects.exists():
                self.stdout.write("already synced once; nothing queued")
                return
            try:
                run = sync_start(trigger="command")
            except SyncAlreadyRunning as exc:
                raise CommandError(f"sync #{exc.run.pk} is already {exc.run.status}") from None
            if not here:
                self.stdout.write(f"sync #{run.pk} queued")
                return
            from contacts.sync import sync_run

            status = sync_run(sync_run_id=run.pk)
            run.refresh_from_db()
            self.stdout.write(f"sync #{run.pk} {status}: {run.stats}")
