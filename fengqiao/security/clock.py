"""The one clock of login security. Tests travel in time by replacing `now` (monkeypatch), never by sleeping."""

from django.utils import timezone


def now():
    return timezone.now()


def today():
    return timezone.localdate(now())
