import pytest


@pytest.fixture(autouse=True)
def _fresh_reference_cache():
    """Each test starts with an empty per-process reference cache (the database is rolled back between tests)."""
    from fengqiao.core import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _scratch_media(settings, tmp_path_factory):
    """Uploaded files (photos of matters) go to a scratch folder, never the developer's var/media."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
