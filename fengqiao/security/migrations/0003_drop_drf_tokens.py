"""DRF's permanent tokens (`rest_framework.authtoken`) left INSTALLED_APPS: they had not been accepted since
`ApiToken` replaced them (ADR 0010). Drop their table if an older database still has it, their permissions and
content types, and the record of their migrations (so re-adding the app one day would create the table again).
On a new database there is nothing to do."""

from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder

APP_LABEL = "authtoken"
TABLE = "authtoken_token"


def forward(apps, schema_editor):
    connection = schema_editor.connection
    if TABLE in connection.introspection.table_names():
        schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(TABLE)}")
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    stale = ContentType.objects.filter(app_label=APP_LABEL)
    Permission.objects.filter(content_type__in=stale).delete()  # and their group and user rows
    LogEntry = apps.get_model("admin", "LogEntry")
    LogEntry.objects.filter(content_type__in=stale).update(content_type=None)
    stale.delete()
    MigrationRecorder(connection).migration_qs.filter(app=APP_LABEL).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0002_password_history"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
