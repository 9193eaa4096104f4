from django.db import migrations


def forward(apps, schema_editor):
    from fengqiao.departments.seed import seed_categories

    seed_categories(apps.get_model("departments", "Category"))


class Migration(migrations.Migration):
    dependencies = [
        ("departments", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
