"""Give every special care record a retention date: records made before retention defaults existed have none
(models.SPECIAL_CARE_RETENTION_DAYS; counted from the last day of care, else the first, else the day recorded)."""

import datetime

from django.conf import settings
from django.db import migrations

# Frozen copy of models.SPECIAL_CARE_RETENTION_DAYS as of this migration ([I]: inferred defaults).
DEFAULT_DAYS = {
    "community_correction": 3 * 365,
    "released_prisoner": 5 * 365,
    "mental_illness": 5 * 365,
    "left_behind_elderly": 3 * 365,
    "left_behind_child": 3 * 365,
    "crisis": 365,
    "other": 365,
}


def fill(apps, schema_editor):
    SpecialCare = apps.get_model("people", "SpecialCare")
    days = {**DEFAULT_DAYS, **getattr(settings, "FENGQIAO_SPECIAL_CARE_RETENTION_DAYS", {})}
    for care in SpecialCare.objects.filter(retention_until__isnull=True).iterator():
        start = care.until or care.since or care.created_at.date()
        care.retention_until = start + datetime.timedelta(days=days.get(care.category, DEFAULT_DAYS["other"]))
        care.save(update_fields=["retention_until"])


class Migration(migrations.Migration):
    dependencies = [("people", "0002_identity_conflicts_retention")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
