"""Role groups hold permissions only: a user's roles come from their current area assignments
(`accounts.backends`, ADR 0009), so the memberships the services used to keep in sync are removed; left in
place they would only mislead whoever reads a user's groups in the admin."""

from django.db import migrations

GROUP_PREFIX = "role:"  # accounts.roles.GROUP_PREFIX, frozen here


def forward(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.groups.through.objects.filter(group__name__startswith=GROUP_PREFIX).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_password_changed_at"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
