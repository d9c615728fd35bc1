"""The backup and restore commands of docs/operations.md, run for real."""

import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django_tenants.utils import schema_context

from conftest import test_database_url
from contacts.models import Customer

pytestmark = pytest.mark.slow


def pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    assert candidates, f"{name} not found"
    return str(candidates[-1])


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def database_url(name: str) -> str:
    parts = urlsplit(test_database_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def names(url: str, sql: str) -> list[str]:
    return run(pg_tool("psql"), url, "-Atc", sql).split()


def test_whole_database_and_one_tenant_are_dumped_and_restored(committed_db, tmp_path):
    with schema_context("alpha"):
        Customer.objects.create(external_userid="wmBackup1", name="备份客户")
    with schema_context("beta"):
        Customer.objects.create(external_userid="wmBackupBeta", name="Beta 客户")
    source = test_database_url()
    whole, alpha = tmp_path / "scrm.dump", tmp_path / "alpha.dump"
    run(pg_tool("pg_dump"), "-Fc", "-d", source, "-f", str(whole))
    run(pg_tool("pg_dump"), "-Fc", "-n", "alpha", "-d", source, "-f", str(alpha))

    restored = f"scrm_restore_{uuid.uuid4().hex[:8]}"
    run(pg_tool("psql"), source, "-c", f'CREATE DATABASE "{restored}"')
    try:
        target = database_url(restored)
        # the whole database into a new one: every brand, the platform's tables
        run(pg_tool("pg_restore"), "--no-owner", "-d", target, str(whole))
        tenants = names(target, "SELECT schema_name FROM public.tenants_tenant ORDER BY 1")
        assert {"alpha", "beta", "public"} <= set(tenants)
        assert names(target, "SELECT external_userid FROM alpha.contacts_customer") == ["wmBackup1"]

        # one brand in place: its schema dropped (the accident), then restored from its dump
        run(pg_tool("psql"), target, "-c", "DROP SCHEMA alpha CASCADE")
        run(pg_tool("pg_restore"), "--no-owner", "-d", target, str(alpha))
        assert names(target, "SELECT external_userid FROM alpha.contacts_customer") == ["wmBackup1"]
        # the other brand untouched, and the tenant dump held nothing of it
        assert names(target, "SELECT external_userid FROM beta.contacts_customer") == [
            "wmBackupBeta"
        ]
        assert "wmBackupBeta" not in run(pg_tool("pg_restore"), "-f", "-", str(alpha))

        # one brand from the whole-database dump: its schema created, then its objects
        run(pg_tool("psql"), target, "-c", "DROP SCHEMA beta CASCADE", "-c", "CREATE SCHEMA beta")
        run(pg_tool("pg_restore"), "--no-owner", "-d", target, "-n", "beta", str(whole))
        assert names(target, "SELECT external_userid FROM beta.contacts_customer") == [
            "wmBackupBeta"
        ]
    finally:
        run(pg_tool("psql"), source, "-c", f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
