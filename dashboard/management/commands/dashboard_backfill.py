"""Rebuild a tenant's dashboard history, and check it against the relations."""

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django_tenants.utils import schema_context

from contacts.models import Store
from dashboard.aggregates import dashboard_backfill
from dashboard.direct import direct_numbers, numbers_differences
from dashboard.selectors import DAYS_MAX, DashboardFilters, relation_numbers
from dashboard.tasks import dashboard_backfill_task
from scrm.tenant_tasks import enqueue
from tenants.models import Tenant

CHECKED_STORES = 3


class Command(BaseCommand):
    help = (
        "Rebuild the dashboard's daily tables of a tenant (every day since the first relation, "
        "or since --from), and with --check compare them with a direct count of the relations."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schema", required=True, help="the tenant's schema name")
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument(
            "--check",
            action="store_true",
            help=f"compare the last {DAYS_MAX} days (all stores and the largest stores) with "
            "the relations; exit 1 on a difference",
        )
        parser.add_argument("--no-build", action="store_true", help="only --check")
        parser.add_argument(
            "--queue", action="store_true", help="rebuild on a worker (bulk queue) instead"
        )

    def handle(
        self,
        *args: Any,
        schema: str,
        first: date | None,
        check: bool,
        no_build: bool,
        queue: bool,
        **options: Any,
    ) -> None:
        if not Tenant.objects.filter(schema_name=schema).exclude(schema_name="public").exists():
            raise CommandError(f"no tenant with schema {schema!r}")
        with schema_context(schema):
            if queue:
                with transaction.atomic():
                    enqueue(dashboard_backfill_task, first=first.isoformat() if first else "")
                self.stdout.write("backfill queued")
                return
            if not no_build:
                result = dashboard_backfill(first=first)
                self.stdout.write(f"{result.days} days rebuilt in {result.seconds:.1f} s")
            if check:
                differences = self._check()
                for difference in differences:
                    self.stderr.write(difference)
                if differences:
                    raise CommandError(f"{len(differences)} differences")
                self.stdout.write("the aggregates equal a direct count of the relations")

    def _check(self) -> list[str]:
        today = timezone.localdate()
        start = today - timedelta(days=DAYS_MAX - 1)
        stores = (
            Store.objects.annotate(n=Count("guides"))
            .order_by("-n", "pk")
            .values_list("pk", flat=True)
        )
        differences = []
        for store_id in [None, *stores[:CHECKED_STORES]]:
            filters = DashboardFilters(start=start, end=today, store_id=store_id)
            found = numbers_differences(relation_numbers(filters), direct_numbers(filters))
            differences += [f"store {store_id or 'all'}: {d}" for d in found]
        return differences
