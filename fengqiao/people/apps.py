from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "fengqiao.people"
    label = "people"
    verbose_name = _("People, places and organisations")

    def ready(self):
        from fengqiao.core import jobs
        from fengqiao.people.services import erase_expired

        # PIPL Art. 47: special-care records past their retention date are erased every day by `fengqiao worker`.
        jobs.register("special-care-erasure", 24 * 3600, erase_expired)
