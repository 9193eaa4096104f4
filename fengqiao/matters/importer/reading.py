"""Reading hotline exports: the column mapping, xlsx and CSV files (checked whole before anything is written) and
the values of a row (record id, time, point). See `fengqiao.matters.importer`."""

import csv
import dataclasses
import datetime
import hashlib
import io
import json
import re
import zipfile
import zoneinfo
from pathlib import Path

from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

from fengqiao.core.geo import CHINA_BBOX
from fengqiao.core.textfiles import FileFormatError

# Our fields -> the column headers of a typical 12345 export (a mapping file overrides any of them).
DEFAULT_MAPPING = {
    "record_id": "工单编号",
    "submitted_at": "受理时间",
    "title": "诉求标题",
    "content": "诉求内容",
    "address": "诉求地址",
    "lon": "经度",
    "lat": "纬度",
    "reporter_name": "来电人",
    "reporter_phone": "联系电话",
    "category": "诉求类型",
}
FIELDS = tuple(DEFAULT_MAPPING)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
EARLIEST = datetime.datetime(1990, 1, 1, tzinfo=SHANGHAI)
FUTURE_SLACK = datetime.timedelta(hours=1)
_TIME_RE = re.compile(
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ T]+(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})(?:\.(\d{1,6}))?秒?|分)?)?"
)


class MatterImportError(ValueError):
    """A problem with the import as a whole (mapping, source, area tree); nothing was written."""


# ---------------------------------------------------------------------------------------------- mapping


def load_mapping(given=None) -> dict:
    """The column mapping: the defaults, overridden by {our field: column header or null} — a dict, or the path
    of a JSON file holding one. Raises MatterImportError naming what is wrong."""
    mapping = dict(DEFAULT_MAPPING)
    if given is None:
        return mapping
    label = "mapping"
    if not isinstance(given, dict):
        label = f"mapping {given}"
        try:
            given = json.loads(Path(given).read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise MatterImportError(f"{label}: cannot read ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MatterImportError(f"{label}: not a JSON file in UTF-8 ({exc})") from None
        if not isinstance(given, dict):
            raise MatterImportError(f"{label}: must be a JSON object {{field: column header}}")
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise MatterImportError(f"{label}: unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    for key, value in given.items():
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise MatterImportError(f"{label}: {key} must name a column header (text) or be null")
        mapping[key] = value.strip() if value else None
    for key in ("record_id", "submitted_at"):
        if not mapping[key]:
            raise MatterImportError(f"{label}: {key} cannot be null (every matter needs it)")
    return mapping


# ---------------------------------------------------------------------------------------------- reading


@dataclasses.dataclass
class Table:
    """A checked input file: its header, the number of data rows, and how to read them (row number, values)."""

    path: Path
    kind: str  # "csv" or "xlsx"
    encoding: str
    header: list
    total: int | None
    sha256: str
    rows: object = None  # a function returning an iterator of (row number, list of values)
    epoch: datetime.datetime = WINDOWS_EPOCH  # day 0 of Excel serial dates (1900 system; 1904 if the workbook says)


def _file_bytes_hash(path):
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _csv_rows(path, encoding):
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text)
        next(reader, None)  # the header
        for number, values in enumerate(reader, start=2):
            if "".join(values).strip():  # not a blank row
                yield number, values


def _read_csv(path, head):
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise FileFormatError(f"{path.name}: UTF-16 (or binary) text; save the CSV as UTF-8 or GBK")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            with path.open("rb") as raw:
                reader = csv.reader(io.TextIOWrapper(raw, encoding=encoding, newline=""))
                header = next(reader, None)
                count = sum(1 for values in reader if "".join(values).strip())
            break
        except UnicodeDecodeError:
            continue
        except csv.Error as exc:
            raise FileFormatError(f"{path.name}: not readable as CSV ({exc})") from None
    else:
        raise FileFormatError(
            f"{path.name}: neither UTF-8 nor GBK/GB18030 text (another encoding?); save the CSV as UTF-8 or GBK"
        )
    if not header:
        raise FileFormatError(f"{path.name}: empty file (no header row)")
    if encoding == "gb18030":
        _check_gbk_text(path)
    label = "utf-8" if encoding == "utf-8-sig" else "gb18030"
    return Table(path, "csv", label, [h.strip() for h in header], count, _file_bytes_hash(path),
                 lambda: _csv_rows(path, encoding))  # fmt: skip


SAMPLE_BYTES = 256 * 1024  # the start of a GBK file checked for mojibake
# In GB2312 but never in a Chinese export's text: kana, Greek, Cyrillic, box drawing (Big5 read as GBK gives these).
_UNLIKELY_IN_GB2312 = re.compile("[\u0370-\u04ff\u2500-\u257f\u3040-\u30ff]")
GARBLED_SHARE = 0.1  # share of odd characters above which GBK text is taken for another encoding
GARBLED_MIN = 8  # ... and at least this many (a short file with one rare name is not refused)


def garbled_share(text):
    """(odd, letters): of the non-ASCII characters of `text`, how many are odd for Chinese text written in GBK —
    outside GB2312 (which holds the 6,763 hanzi of everyday simplified Chinese and the common punctuation), or
    kana, Greek, Cyrillic, box drawing. Real GBK exports have a few (rare characters in names); Big5 or Shift-JIS
    bytes read as GBK give mostly these."""
    letters = "".join(c for c in text if c > "\x7f")
    common = letters.encode("gb2312", "ignore").decode("gb2312")
    common = _UNLIKELY_IN_GB2312.sub("", common)
    return len(letters) - len(common), len(letters)


# What a garbled GBK file may really be, in the order tried (Big5 bytes also decode as Shift-JIS, not the reverse).
SUSPECTS = [("Big5 (traditional Chinese)", ("cp950", "big5hkscs")), ("Shift-JIS (Japanese)", ("cp932",))]


def _decode_any(raw, codecs):
    for codec in codecs:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return None


def _check_gbk_text(path):
    """GB18030 decodes almost any byte string, so a Big5 (or Shift-JIS …) file is read without an error, as
    mojibake. Refuse a file whose start, read as GBK, is not plausible Chinese text."""
    with path.open("rb") as fh:
        raw = fh.read(SAMPLE_BYTES)
    if len(raw) == SAMPLE_BYTES:
        raw = raw[: raw.rfind(b"\n") + 1] or raw  # whole lines: a line feed is never part of a GBK/Big5 character
    text = raw.decode("gb18030", "ignore")
    odd, letters = garbled_share(text)
    if odd < GARBLED_MIN or odd <= GARBLED_SHARE * letters:
        return
    sample = "".join(c for c in text if c > "\x7f")[:12]
    guess = "it is in another encoding (not UTF-8 or GBK)"
    for name, codecs in SUSPECTS:
        decoded = _decode_any(raw, codecs)
        if decoded is not None:
            guess = f"it looks like {name}: {''.join(c for c in decoded if c > chr(0x7F))[:12]!r}"
            break
    raise FileFormatError(
        f"{path.name}: read as GBK the text is garbled ({odd / letters:.0%} of its characters are rare or not "
        f"Chinese, e.g. {sample!r}); {guess}. Save the CSV as UTF-8 or GBK"
    )


def _xlsx_rows(path):
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > 1 and any(v not in (None, "") for v in values):
                yield number, list(values)
    finally:
        workbook.close()


def _read_xlsx(path, head):
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileFormatError(f"{path.name}: an old Excel 97–2003 (.xls) workbook; save it as .xlsx")
    if not head.startswith(b"PK\x03\x04"):
        raise FileFormatError(f"{path.name}: not an Excel .xlsx workbook (CSV or other text?); save it as .xlsx")
    try:
        with zipfile.ZipFile(path) as archive:  # every member's checksum, so a damaged file fails before writing
            bad = archive.testzip()
        if bad is not None:
            raise FileFormatError(f"{path.name}: damaged workbook (member {bad} fails its checksum)")
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise FileFormatError(f"{path.name}: not a readable Excel .xlsx workbook ({exc})") from None
    try:
        if not workbook.worksheets:
            raise FileFormatError(f"{path.name}: the workbook has no sheet")
        sheet = workbook.worksheets[0]
        header = next(sheet.iter_rows(max_row=1, values_only=True), None)
        epoch = workbook.epoch
    finally:
        workbook.close()
    if not header:
        raise FileFormatError(f"{path.name}: the first sheet is empty")
    # Read every row now: a sheet damaged half-way must fail before anything is written (as the CSV path does).
    try:
        rows = list(_xlsx_rows(path))
    except Exception as exc:  # openpyxl raises XML parse, key and value errors on damaged sheets
        raise FileFormatError(f"{path.name}: damaged worksheet ({type(exc).__name__}: {exc})") from None
    return Table(path, "xlsx", "", [_text(h) for h in header], len(rows), _file_bytes_hash(path),
                 lambda: iter(rows), epoch)  # fmt: skip


def open_table(path) -> Table:
    """Check a file (xlsx by the .xlsx/.xlsm name, else CSV) and return how to read it. Raises FileFormatError."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: file not found") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise FileFormatError(f"{path.name}: an old Excel 97–2003 (.xls) workbook; save it as .xlsx")
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, head)
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise FileFormatError(f"{path.name}: a spreadsheet, not CSV text; name it .xlsx or export it as CSV")
    return _read_csv(path, head)


def columns_for(table: Table, mapping: dict) -> dict:
    """{our field: column index} for the mapped columns present; FileFormatError when a needed one is missing."""
    where = {}
    for index, name in enumerate(table.header):
        where.setdefault(name, index)
    needed = [mapping["record_id"], mapping["submitted_at"]]
    missing = [c for c in needed if c not in where]
    texts = [mapping[k] for k in ("title", "content") if mapping.get(k)]
    if not any(c in where for c in texts):
        missing.append(" or ".join(texts) or "title/content (mapped to null)")
    if missing:
        found = ", ".join(h for h in table.header if h) or "(none)"
        raise FileFormatError(
            f"{table.path.name}: header: missing column(s) {', '.join(missing)}; found {found}"
            " (another export layout? give --mapping)"
        )
    return {field: where[mapping[field]] for field in FIELDS if mapping.get(field) in where}


# ---------------------------------------------------------------------------------------------- row values


class Rejected(Exception):
    pass


def _text(value):
    kind = type(value)
    if kind is str:
        return value.strip()
    if value is None:
        return ""
    if kind is float and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


EXCEL_LAST = 2958466  # the serial of 10000-01-01: Excel has no later date
_SERIAL_RE = re.compile(r"\d{5}(?:\.\d+)?")  # a serial date as text (1990 is 32874; 5 digits last till 2173)


def excel_serial(value):
    """The number of an Excel serial date (days since the epoch, the fraction the time of day), or None: a number
    cell of an xlsx without a date format, or such a number written to a CSV."""
    kind = type(value)
    if kind is float or kind is int:
        return value if 0 < value < EXCEL_LAST else None
    if kind is str and _SERIAL_RE.fullmatch(value.strip()):
        return float(value)
    return None


def parse_time(value, now, epoch=WINDOWS_EPOCH):
    """The aware time of a row (Asia/Shanghai when the text has no offset). Raises Rejected when impossible.

    Text in ISO form or as ``2024/1/5 8:03``, ``2024年1月5日 8时3分``; xlsx date cells; and Excel serial dates
    (``46000.5``: a number cell without a date format, or in a CSV) in the workbook's date system (1900, Excel's
    default, with its leap day of 1900 as openpyxl's ``from_excel`` handles it; 1904 when the workbook says)."""
    kind = type(value)
    if kind is str:
        text = value.strip()
        try:
            when = datetime.datetime.fromisoformat(text)  # the common form, parsed in C
        except ValueError:
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=SHANGHAI)
        else:
            when = _parse_text_time(value, epoch)
    elif isinstance(value, datetime.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    elif isinstance(value, datetime.date):
        when = datetime.datetime(value.year, value.month, value.day, tzinfo=SHANGHAI)
    else:
        when = _parse_text_time(value, epoch)
    if when < EARLIEST:
        raise Rejected(f"impossible time {_text(value)!r} ({_serial_note(value, when)}before 1990)")
    if when > now + FUTURE_SLACK:
        raise Rejected(f"impossible time {_text(value)!r} ({_serial_note(value, when)}in the future)")
    return when


def _serial_note(value, when):
    return f"an Excel date serial: {when:%Y-%m-%d %H:%M}, " if excel_serial(value) is not None else ""


def _parse_text_time(value, epoch):
    serial = excel_serial(value)
    text = _text(value)
    if serial is not None:
        try:
            when = from_excel(serial, epoch)
        except (OverflowError, ValueError):
            raise Rejected(f"impossible time {text!r} (an Excel date serial past the year 9999)") from None
        if not isinstance(when, datetime.datetime):
            raise Rejected(f"impossible time {text!r} (an Excel time of day without a date)")
        return when.replace(tzinfo=SHANGHAI)  # Excel keeps the local wall-clock time
    if not text:
        raise Rejected("no time")
    match = _TIME_RE.fullmatch(text)
    try:
        if match:
            y, mo, d, h, mi, s, frac = match.groups()
            micro = int((frac or "0").ljust(6, "0"))
            return datetime.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro,
                                     tzinfo=SHANGHAI)  # fmt: skip
        when = datetime.datetime.fromisoformat(text)
        return when if when.tzinfo else when.replace(tzinfo=SHANGHAI)
    except ValueError:
        raise Rejected(f"impossible time {text!r}") from None


def _number(value):
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return float("nan")


def parse_point(lon, lat):
    """(lon, lat, warning): a usable WGS84 point, or (None, None, why it was dropped). Swapped values are put right."""
    lon, lat = _number(lon), _number(lat)
    if lon is None and lat is None:
        return None, None, ""
    if lon is None or lat is None:
        return None, None, "only one of longitude and latitude; location taken from the address"
    if lon == 0 and lat == 0:
        return None, None, ""
    minx, miny, maxx, maxy = CHINA_BBOX
    if minx <= lon <= maxx and miny <= lat <= maxy:
        return lon, lat, ""
    if minx <= lat <= maxx and miny <= lon <= maxy:
        return lat, lon, "longitude and latitude were swapped; put right"
    return None, None, "coordinates not a point in China; location taken from the address"
