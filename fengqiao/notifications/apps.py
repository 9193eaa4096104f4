from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "fengqiao.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from fengqiao.core import jobs
        from fengqiao.notifications import checks  # noqa: F401  (registers the channel check)
        from fengqiao.notifications.delivery import retry_due_deliveries

        jobs.register("notification-retries", 60, retry_due_deliveries)
