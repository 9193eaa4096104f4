import pytest


@pytest.fixture(autouse=True)
def _fresh_reference_cache():
    """Each test starts with an empty per-process reference cache (the database is rolled back between tests)."""
    from fengqiao.core import cache

    cache.clear()
    yield
    cache.clear()
