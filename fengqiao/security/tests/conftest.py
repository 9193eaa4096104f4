import datetime

import pytest
from django.utils import timezone, translation

from fengqiao.security import clock as security_clock


class Clock:
    """The security clock, frozen at a fixed moment; `advance` travels forward."""

    def __init__(self):
        self.now = timezone.now().replace(microsecond=0)

    def advance(self, **delta):
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    frozen = Clock()
    monkeypatch.setattr(security_clock, "now", lambda: frozen.now)
    return frozen


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English (the msgids); the default language is Chinese."""
    with translation.override("en"):
        yield
