from django.contrib.auth.models import AbstractUser
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person who signs in. Roles scoped to areas come with the people issue (ADR 0003)."""

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
