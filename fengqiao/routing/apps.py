from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "fengqiao.routing"
    label = "routing"
    verbose_name = _("Routing")

    def ready(self):
        from fengqiao.core import bench
        from fengqiao.routing import bench_router

        bench.register(
            "router",
            bench_router.add_arguments,
            bench_router.run,
            "category classifier: titles/s on one core, model size, training time",
        )
