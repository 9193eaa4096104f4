"""Seed one Group per role with the role's permissions (`accounts.roles.ROLE_PERMISSIONS`)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def forward(apps, schema_editor):
    from fengqiao.accounts.roles import seed_role_groups

    # Permissions are normally created after all migrations ran; make sure the ones we need exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    # Apps migrated later (people) may not exist yet: their permissions are seeded by a later migration (0004).
    ready = {model._meta.app_label for model in apps.get_models()}
    seed_role_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), apps_ready=ready)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_assignments"),
        ("areas", "0003_division_edition"),
        ("audit", "0001_initial"),
        ("centres", "0002_space_types"),
        ("departments", "0002_categories"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
