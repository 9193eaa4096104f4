"""Re-seed the role groups now that the closed loop, the calendar and department memberships exist (ADR 0013):
roles get the `matters.*`, `workdays.*` and `departments.*membership` permissions of accounts.roles."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def forward(apps, schema_editor):
    from fengqiao.accounts.roles import seed_role_groups

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    # Every app the mapping names is migrated by now (dependencies): seed strictly.
    seed_role_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), apps_ready=None)


class Migration(migrations.Migration):
    dependencies = [
        ("matters", "0004_photo_kind"),
        ("accounts", "0006_drop_role_group_memberships"),
        ("workdays", "0001_initial"),
        ("departments", "0003_membership"),
        ("people", "0003_fill_special_care_retention"),
        ("areas", "0003_division_edition"),
        ("audit", "0002_hash_chain"),
        ("centres", "0002_space_types"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
