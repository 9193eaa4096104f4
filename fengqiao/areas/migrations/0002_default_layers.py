from django.db import migrations


def forward(apps, schema_editor):
    from fengqiao.areas.seed import seed_grid_layers

    seed_grid_layers(apps.get_model("areas", "GridLayer"))


class Migration(migrations.Migration):
    dependencies = [
        ("areas", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
