from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.rotation import encryption_rotate


class Command(BaseCommand):
    help = (
        "Encrypt every stored credential (all schemas) again with the first of "
        "SCRM_ENCRYPTION_KEYS; --check only reports values that still need an older key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="change nothing; fail if an old key is still needed",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        reports = encryption_rotate(check_only=options["check"])
        for r in reports:
            if r.values:
                self.stdout.write(
                    f"{r.schema}.{r.table}.{r.column}: {r.values} values, {r.rotated} re-encrypted"
                    + (f", {r.needing_old_key} need an old key" if options["check"] else "")
                )
        waiting = sum(r.needing_old_key for r in reports)
        if options["check"] and waiting:
            raise CommandError(f"{waiting} values still need an old key: run encryption_rotate")
        total = sum(r.values for r in reports)
        done = sum(r.rotated for r in reports)
        self.stdout.write(
            self.style.SUCCESS(
                f"all {total} encrypted values readable with the first key"
                if options["check"]
                else f"{done} of {total} encrypted values re-encrypted with the first key"
            )
        )
