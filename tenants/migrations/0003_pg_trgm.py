from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    """pg_trgm lives in the public schema, which every tenant's search_path includes; the
    contacts app's search indexes use its operator class."""

    dependencies = [("tenants", "0002_wecomcorp_rate_limits")]

    operations = [TrigramExtension()]
