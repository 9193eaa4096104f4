"""The default deadline policies (domain.md §3 and inferred values): admins edit them afterwards."""

from django.db import migrations


def forward(apps, schema_editor):
    from fengqiao.matters.deadlines import DEFAULT_POLICIES

    DeadlinePolicy = apps.get_model("matters", "DeadlinePolicy")
    for stage, complexity, channel, amount, unit, note in DEFAULT_POLICIES:
        DeadlinePolicy.objects.get_or_create(
            workflow="matter",
            stage=stage,
            category=None,
            complexity=complexity,
            channel=channel,
            defaults={"amount": amount, "unit": unit, "note": note},
        )


class Migration(migrations.Migration):
    dependencies = [("matters", "0001_initial")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
