from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class WorkdaysConfig(AppConfig):
    name = "fengqiao.workdays"
    label = "workdays"
    verbose_name = _("Working-day calendar")

    def ready(self):
        # Cache invalidation only (no business effect): any save or delete of an override drops the process's
        # cached table (ADR 0011).
        from fengqiao.workdays import cache
        from fengqiao.workdays.models import CalendarOverride

        post_save.connect(cache.on_override_saved, sender=CalendarOverride, dispatch_uid="workdays.cache.save")
        post_delete.connect(cache.on_override_saved, sender=CalendarOverride, dispatch_uid="workdays.cache.delete")
