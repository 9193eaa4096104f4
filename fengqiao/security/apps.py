from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "fengqiao.security"
    label = "security"
    verbose_name = _("Login security")

    def ready(self):
        from fengqiao.security import checks, schema  # noqa: F401  (registers the system check and the OpenAPI extension)
