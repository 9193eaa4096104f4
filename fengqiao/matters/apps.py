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
