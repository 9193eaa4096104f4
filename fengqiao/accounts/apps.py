from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "fengqiao.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from fengqiao.accounts import snapshot

        # Cache bookkeeping only (no business effect): cached permissions and scopes are rebuilt after a change.
        snapshot.connect()
