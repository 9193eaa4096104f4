"""The response-rate counters on the matter (ADR 0013, statistics): added, filled from the existing dispatches,
and read by the covering index `matter_stats`, rebuilt with them (dropped first, so that the fill does not have
to maintain it row by row). From now on the engine keeps them in the transaction of every step."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, Exists, F, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce


def fill(apps, schema_editor):
    """What `engine.recount_responses` does, frozen here with the historical models."""
    Matter = apps.get_model("matters", "Matter")
    Dispatch = apps.get_model("matters", "Dispatch")
    db = schema_editor.connection.alias
    leads = Dispatch.objects.using(db).filter(matter=OuterRef("pk"), role="lead", acknowledge_due__isnull=False)
    acknowledged = Q(acknowledged_at__isnull=False)
    ended_late = Q(acknowledged_at__isnull=True, ended_at__isnull=False, acknowledge_due__lt=F("ended_at"))
    pending = Q(acknowledged_at__isnull=True, ended_at__isnull=True)
    other_unit = (
        Q(department__isnull=True, matter__department__isnull=False)
        | Q(department__isnull=False, matter__department__isnull=True)
        | Q(department__lt=F("matter__department"))
        | Q(department__gt=F("matter__department"))
    )

    def count(condition):
        rows = leads.filter(condition).order_by().values("matter").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(rows), 0)

    first_pending = leads.filter(pending).order_by().values("matter").annotate(due=Min("acknowledge_due"))
    Matter.objects.using(db).filter(Exists(leads)).update(
        response_due=count(acknowledged | ended_late),
        response_in_time=count(Q(acknowledged_at__lte=F("acknowledge_due"))),
        response_pending_due=Subquery(first_pending.values("due")),
        response_elsewhere=Exists(leads.filter(acknowledged | ended_late | pending).filter(other_unit)),
    )


class Migration(migrations.Migration):

    dependencies = [
        ('areas', '0003_division_edition'),
        ('departments', '0003_membership'),
        ('matters', '0007_fewer_single_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='matter',
            name='matter_stats',
        ),
        migrations.AddField(
            model_name='matter',
            name='response_due',
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name='lead dispatches due'),
        ),
        migrations.AddField(
            model_name='matter',
            name='response_elsewhere',
            field=models.BooleanField(default=False, editable=False, verbose_name='lead dispatches to other units'),
        ),
        migrations.AddField(
            model_name='matter',
            name='response_in_time',
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name='lead dispatches acknowledged in time'),
        ),
        migrations.AddField(
            model_name='matter',
            name='response_pending_due',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='pending lead dispatch to acknowledge by'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='matter',
            index=models.Index(fields=['area', 'submitted_at', 'state', 'rating', 'warning', 'solved_level', 'handled_on_time', 'solved_on_spot', 'was_overdue', 'accepted_at', 'handled_at', 'response_due', 'response_in_time', 'response_pending_due', 'grid', 'department', 'category', 'handling_area', 'workflow'], name='matter_stats'),
        ),
        migrations.AddIndex(
            model_name='matter',
            index=models.Index(condition=models.Q(('response_elsewhere', True)), fields=['area', 'submitted_at', 'department', 'workflow'], name='matter_response_elsewhere'),
        ),
    ]
