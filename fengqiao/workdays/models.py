from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.models import TimeStampedModel


class CalendarOverride(TimeStampedModel):
    """One day whose status the State Council's holiday notice sets (ADR 0011): a statutory holiday (day off) or a
    make-up workday (调休上班). National reference data, not scoped by area. Takes precedence over the
    `chinese_calendar` package; for a year the package does not know, any entry makes the year "configured"."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("holiday (day off)")
        WORKDAY = "workday", _("make-up workday")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=40, help_text=_("for example 元旦, 春节 or 调休上班"))
    note = models.CharField(
        _("note"), max_length=255, blank=True, help_text=_("source, for example the State Council notice")
    )

    class Meta:
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")
        ordering = ["date"]

    def __str__(self):
        return f"{self.date.isoformat()} {self.name}"

    @property
    def is_working(self) -> bool:
        return self.kind == self.Kind.WORKDAY
