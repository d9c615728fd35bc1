import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0004_relation_tags_gin"),
        ("tagging", "0002_segment_autotagrule_bulktagjob_bulktagrow"),
    ]

    operations = [
        migrations.AlterField(
            model_name="bulktagrow",
            name="job",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="rows",
                to="tagging.bulktagjob",
            ),
        ),
        migrations.AlterField(
            model_name="bulktagrow",
            name="relation",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="contacts.relation",
            ),
        ),
    ]
