from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MattersConfig(AppConfig):
    name = "fengqiao.matters"
    label = "matters"
    verbose_name = _("Matters")

    def ready(self):
        from django.conf import settings

        from fengqiao.core import jobs
        from fengqiao.matters.sweep import sweep

        jobs.register("deadline-sweep", getattr(settings, "FENGQIAO_SWEEP_SECONDS", 60), sweep)
        from fengqiao.matters.deadlines import refresh_provisional

        # When a year's holidays become known, provisional deadlines become firm (hourly).
        jobs.register("provisional-deadlines", 3600, refresh_provisional)

        from django.db.models.signals import post_delete, post_save

        from fengqiao.centres.models import Centre
        from fengqiao.core import cache
        from fengqiao.departments.models import Category
        from fengqiao.matters.models import DeadlinePolicy

        # Cache bookkeeping only (no business effect): hot-path reference data is re-read after an edit.
        def forget(prefix):
            def receiver(**kwargs):
                cache.clear(prefix)

            return receiver

        from fengqiao.areas.models import Grid

        hot = ((DeadlinePolicy, "deadline-policies"), (Category, "categories"), (Centre, "centres"), (Grid, "grids"))
        for model, prefix in hot:
            post_save.connect(forget(prefix), sender=model, weak=False, dispatch_uid=f"cache-{prefix}-save")
            post_delete.connect(forget(prefix), sender=model, weak=False, dispatch_uid=f"cache-{prefix}-delete")

        from fengqiao.core import bench, crypto
        from fengqiao.matters.models import Attachment

        def photo_files():
            for blob, thumbnail in Attachment.objects.values_list("blob", "thumbnail_blob"):
                yield blob
                yield thumbnail

        crypto.register_encrypted_files(photo_files)
        from fengqiao.matters import bench_duplicates, bench_import, bench_intake, bench_stats

        bench.register(
            "intake", bench_intake.add_arguments, bench_intake.run, "REST intake under load vs a trivial endpoint"
        )
        bench.register(
            "stats", bench_stats.add_arguments, bench_stats.command, "closed-loop statistics, synthetic matters"
        )
        bench.register("import", bench_import.add_arguments, bench_import.run, "hotline import vs a raw insert")
        bench.register(
            "duplicates",
            bench_duplicates.add_arguments,
            bench_duplicates.command,
            "duplicate suggestions: precision/recall on real messages, speed at 1M matters",
        )
