"""PIPL: a raw search of the database file for a known phone number, ID number or name finds nothing."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    from fengqiao.areas.tests.factories import make_chain
    from fengqiao.centres.models import Centre
    from fengqiao.centres.services import log_reception
    from fengqiao.people.services import create_household, create_person

    chain = make_chain()
    household = create_household(actor="probe", area=chain["village"], number="H-1", address="汤塘镇幸福路12号")
    create_person(
        actor="probe", area=chain["village"], household=household, name="欧阳娜娜", residence_type="resident",
        id_number="{id_number}", phone="13812345678",
    )
    centre = Centre.objects.create(area=chain["town"], name="镇综治中心")
    log_reception(actor="probe", centre=centre, purpose="咨询", visitor_name="欧阳娜娜", visitor_phone="13812345678")
    """
)


@pytest.mark.slow
def test_a_raw_search_of_the_database_file_finds_no_personal_data(tmp_path):
    from fengqiao.core.identity import check_digit

    first17 = "44182119800101123"
    id_number = first17 + check_digit(first17)
    db = tmp_path / "raw.sqlite3"
    env = {
        **os.environ,
        "FENGQIAO_DATABASE_URL": f"sqlite:///{db}",
        "FENGQIAO_DATA_DIR": str(tmp_path),
        "FENGQIAO_KEY_DIR": str(tmp_path / "keys"),
    }
    env.pop("FENGQIAO_FIELD_KEYS", None)
    env.pop("FENGQIAO_HASH_KEY", None)
    run = [sys.executable, "-m", "fengqiao.cli"]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True, timeout=300)
    subprocess.run([*run, "shell", "-c", SCRIPT.format(id_number=id_number)], env=env, check=True, timeout=120)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("raw.sqlite3")]
    data = b"".join(p.read_bytes() for p in files)
    assert b"H-1" in data, "the probe data was not written to the file searched"
    for secret in ("13812345678", "138 1234 5678", id_number, "欧阳娜娜", "幸福路"):
        assert secret.encode() not in data, f"{secret} found in plaintext in {[p.name for p in files]}"
