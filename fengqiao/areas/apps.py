from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AreasConfig(AppConfig):
    name = "fengqiao.areas"
    label = "areas"
    verbose_name = _("Areas and grids")

    def ready(self):
        from fengqiao.areas import bench_addresses
        from fengqiao.core import bench

        bench.register("addresses", bench_addresses.add_arguments, bench_addresses.run, "address resolution accuracy")
