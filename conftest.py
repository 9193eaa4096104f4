import os
from pathlib import Path

import pytest

os.environ.setdefault("FENGQIAO_KEY_DIR", str(Path(__file__).parent / "var" / "test-keys"))

SHARED_DATA = Path(os.environ.get("FENGQIAO_SHARED_DATA_DIR", Path(__file__).parent.parent / "shared" / "data"))


@pytest.fixture
def shared_data():
    """The real reference data beside the repository (CI always has it; a bare clone does not)."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("FENGQIAO_REQUIRE_SHARED_DATA"):
            pytest.fail(f"shared data folder {SHARED_DATA} is absent but FENGQIAO_REQUIRE_SHARED_DATA is set")
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _fresh_locate_index():
    """The locate index is cached per process; each test starts without one."""
    from fengqiao.areas import locate

    locate.invalidate()
    yield
    locate.invalidate()
