from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from fengqiao.security.policy import demo_without_second_factor

register = template.Library()


@register.simple_tag
def demo_banner():
    """A visible warning on every admin page while the second factor is switched off (FENGQIAO_DEMO_NO_2FA)."""
    if not demo_without_second_factor():
        return ""
    return format_html(
        '<div class="security-demo-banner" role="alert" style="{}">{}</div>',
        "background:#ba2121;color:#fff;padding:8px 40px;font-weight:bold;",
        _("Demo mode: the second factor (TOTP) is switched off (FENGQIAO_DEMO_NO_2FA). Never run it like this."),
    )
