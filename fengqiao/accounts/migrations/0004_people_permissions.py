"""Re-seed the role groups now that the people registries exist: roles get the `people.*` permissions they need
(ADR 0009, amendment 1). Idempotent: every group is reset to exactly `accounts.roles.ROLE_PERMISSIONS`."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def forward(apps, schema_editor):
    from fengqiao.accounts.roles import seed_role_groups

    # Permissions are normally created after all migrations ran; make sure the ones we need (people.*,
    # including the custom unmask_person) exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    ready = {model._meta.app_label for model in apps.get_models()}
    seed_role_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), apps_ready=ready)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_role_groups"),
        ("people", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
