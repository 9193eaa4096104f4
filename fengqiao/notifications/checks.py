"""System check: the outbound channels of ``FENGQIAO_NOTIFY_CHANNELS`` can be built (``fengqiao check`` and
every management command report a bad entry before the first notification is sent)."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register()
def check_channels(app_configs=None, **kwargs):
    from fengqiao.notifications import channels

    try:
        channels.configured()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="notifications.E001", obj="FENGQIAO_NOTIFY_CHANNELS")]
    return []
