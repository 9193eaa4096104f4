import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from fengqiao.cli import main
from fengqiao.core import crypto
from fengqiao.core.masking import mask_id_number, mask_name, mask_phone
from fengqiao.core.textfiles import FileFormatError, decode_text, read_csv_dicts


@pytest.fixture
def fresh_keys(monkeypatch):
    crypto.reset_key_cache()
    yield monkeypatch
    crypto.reset_key_cache()


def test_encrypted_values_round_trip_and_hide_the_plaintext():
    token = crypto.encrypt("13812345678")
    assert token.startswith("enc1:")
    assert "13812345678" not in token
    assert crypto.decrypt(token) == "13812345678"
    assert crypto.encrypt("13812345678") != token  # random IV: equal values do not look equal


def test_keys_rotate_old_values_still_decrypt(fresh_keys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    fresh_keys.setenv("FENGQIAO_FIELD_KEYS", old)
    token = crypto.encrypt("张三")
    crypto.reset_key_cache()
    fresh_keys.setenv("FENGQIAO_FIELD_KEYS", f"{new},{old}")
    assert crypto.decrypt(token) == "张三"
    crypto.reset_key_cache()
    fresh_keys.setenv("FENGQIAO_FIELD_KEYS", new)
    with pytest.raises(ImproperlyConfigured, match="keys do not match"):
        crypto.decrypt(token)


def test_an_invalid_key_is_reported(fresh_keys):
    fresh_keys.setenv("FENGQIAO_FIELD_KEYS", "not-a-key")
    with pytest.raises(ImproperlyConfigured, match="FENGQIAO_FIELD_KEYS"):
        crypto.encrypt("x")


def test_lookup_hash_is_keyed_and_normalised(fresh_keys):
    fresh_keys.setenv("FENGQIAO_HASH_KEY", "k1")
    a = crypto.lookup_hash("138 1234 5678")
    assert a == crypto.lookup_hash("13812345678")
    assert len(a) == 64 and "1381234" not in a
    crypto.reset_key_cache()
    fresh_keys.setenv("FENGQIAO_HASH_KEY", "k2")
    assert crypto.lookup_hash("13812345678") != a


def test_dev_keys_are_generated_once_outside_the_repo(fresh_keys, tmp_path, settings):
    settings.KEY_DIR = tmp_path / "keys"
    fresh_keys.delenv("FENGQIAO_FIELD_KEYS", raising=False)
    token = crypto.encrypt("x")
    key_file = tmp_path / "keys" / "field-keys"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    crypto.reset_key_cache()
    assert crypto.decrypt(token) == "x"


@pytest.mark.parametrize(
    ("func", "value", "masked"),
    [
        (mask_phone, "13812345678", "138****5678"),
        (mask_id_number, "44182119800101123X", "441821********123X"),
        (mask_name, "张三", "张*"),
        (mask_name, "欧阳娜娜", "欧***"),
        (mask_phone, "", ""),
        (mask_phone, "12345", "*****"),
    ],
)
def test_masking(func, value, masked):
    assert func(value) == masked


def test_decode_text_accepts_utf8_bom_and_gbk():
    assert decode_text("\ufeff汤塘镇".encode()) == ("汤塘镇", "utf-8")
    assert decode_text("汤塘镇".encode("gbk")) == ("汤塘镇", "gb18030")
    with pytest.raises(FileFormatError, match="line 2"):
        decode_text(b"ok\n\xff\xff\xff\x80", name="f.csv")


def test_csv_reader_names_missing_columns_and_ragged_lines(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("code,name\n1,x\n")
    with pytest.raises(FileFormatError, match="missing column"):
        read_csv_dicts(path, required=["code", "level"])
    path.write_text("code,name\n1,x,extra\n")
    with pytest.raises(FileFormatError, match="line 2: more fields"):
        read_csv_dicts(path)
    with pytest.raises(FileFormatError, match="not found"):
        read_csv_dicts(tmp_path / "missing.csv")


def test_cli_accepts_hyphenated_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["import-divisions", "--help"])
    assert exc.value.code == 0
    assert "edition" in capsys.readouterr().out


def test_cli_explains_an_unmigrated_database(tmp_path):
    env = {**os.environ, "FENGQIAO_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, "-m", "fengqiao.cli", "export-grids", "-o", str(tmp_path / "grids.geojson")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Run `fengqiao migrate` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_masking_rules_are_configurable(settings):
    settings.MASK_PHONE_KEEP = (0, 4)
    settings.MASK_ID_KEEP = (1, 2)
    assert mask_phone("13812345678") == "*******5678"
    assert mask_id_number("44182119800101123X") == "4***************3X"
