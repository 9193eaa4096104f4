"""Reading the text files government data arrives in: UTF-8 (with or without BOM), GBK or GB18030."""

import csv
import io
from pathlib import Path


class FileFormatError(ValueError):
    """A file that cannot be read; the message names the file and, where possible, the line."""


def decode_text(raw: bytes, *, name="input"):
    """Decode bytes as UTF-8, else GB18030 (a superset of GBK and GB2312). Returns (text, encoding)."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            line = raw[: utf8_error.start].count(b"\n") + 1
            raise FileFormatError(
                f"{name}: line {line}: neither UTF-8 nor GBK/GB18030 text (byte offset {utf8_error.start})"
            ) from None


def read_csv_dicts(path, required=()):
    """Read a CSV file into (line_number, row dict) pairs; checks that the required columns exist."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: file not found") from None
    except OSError as exc:  # a directory, no permission, an I/O error
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileFormatError(f"{path}: this is a spreadsheet, not CSV text; export it as CSV first")
    text, _encoding = decode_text(raw, name=str(path))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise FileFormatError(f"{path}: line 1: missing column(s) {', '.join(missing)}; found {', '.join(header)}")
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:
            raise FileFormatError(f"{path}: line {reader.line_num}: more fields than the header has")
        rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    return rows
