import pytest

from fengqiao.open311.tests.wire import schemas  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in Django's cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def w(db):
    from fengqiao.open311.tests.builders import open311_world

    return open311_world()
