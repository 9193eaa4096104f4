from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fengqiao.core.context import request_client_address
from fengqiao.security.services import lockout


class SignInForm(AdminAuthenticationForm):
    """The admin's password step, which says plainly when the user name or address is locked."""

    def clean(self):
        username = self.cleaned_data.get("username")
        lock = lockout.active_lockout(username=username or "", address=request_client_address(self.request))
        if lock is not None:
            until = timezone.localtime(lock.locked_until)
            raise ValidationError(
                _("Too many failed sign-ins: signing in is locked until %(time)s.") % {"time": f"{until:%H:%M}"},
                code="locked",
            )
        return super().clean()


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        help_text=gettext_lazy("The 6-digit code from your authenticator app, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )
