from django.db import migrations


def forward(apps, schema_editor):
    from fengqiao.centres.seed import seed_space_types

    seed_space_types(apps.get_model("centres", "SpaceType"))


class Migration(migrations.Migration):
    dependencies = [
        ("centres", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
