"""`fengqiao classify`: classify the texts of one column of a CSV file into a copy with three more columns.

The input is UTF-8 (with or without BOM) or GBK/GB18030 CSV with a header row; the output is UTF-8 with a BOM
(so Excel opens it): every input column as read, then ``category``, ``confidence`` (0–1, three decimals) and
``terms`` (the top contributing terms, separated by spaces). A row whose text has no term the model knows gets
an empty category and confidence 0. The whole input is read and checked before anything is written, and the
output appears only when complete (written beside it, then renamed).
"""

import csv
import io
import os
import uuid
from pathlib import Path

from fengqiao.core.textfiles import FileFormatError, decode_text

ADDED = ("category", "confidence", "terms")
BATCH = 10_000


def read_table(path, columns, *, reserved=()):
    """(header, [(line number, row), …], [index of each column]); raises FileFormatError naming file and line.

    Rows shorter than the header are padded with empty values; blank lines are skipped. `reserved`: column
    names the file must not have (the ones an output adds).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: file not found") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileFormatError(f"{path}: this is a spreadsheet, not CSV text; export it as CSV first")
    text, _encoding = decode_text(raw, name=str(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise FileFormatError(f"{path}: empty file (a header row is needed)") from None
    except csv.Error as exc:
        raise FileFormatError(f"{path}: line 1: not CSV ({exc})") from None
    names = [h.strip() for h in header]
    missing = [c for c in columns if c not in names]
    if missing:
        found = ", ".join(names) or "none"
        raise FileFormatError(f"{path}: line 1: no column {', '.join(map(repr, missing))}; found {found}")
    taken = [name for name in reserved if name in names]
    if taken:
        raise FileFormatError(f"{path}: line 1: already has column(s) {', '.join(taken)}, which the output adds")
    rows = []
    try:
        for row in reader:
            if not row:
                continue
            if len(row) > len(header):
                raise FileFormatError(f"{path}: line {reader.line_num}: more fields than the header has")
            rows.append((reader.line_num, row + [""] * (len(header) - len(row))))
    except csv.Error as exc:
        raise FileFormatError(f"{path}: line {reader.line_num}: not CSV ({exc})") from None
    return header, rows, [names.index(c) for c in columns]


def classify_csv(input_path, text_column, output_path, classifier):
    """Classify every row; returns the number of rows written. Nothing is written on error."""
    output_path = Path(output_path)
    if output_path.exists() and output_path.resolve() == Path(input_path).resolve():
        raise FileFormatError(f"{output_path}: the output must not be the input file")
    if not output_path.parent.is_dir():
        raise FileFormatError(f"{output_path}: folder {output_path.parent} does not exist")
    header, rows, (column,) = read_table(input_path, [text_column], reserved=ADDED)
    scratch = output_path.parent / f".{output_path.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(scratch, "x", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([*header, *ADDED])
            for start in range(0, len(rows), BATCH):
                chunk = [row for _line, row in rows[start : start + BATCH]]
                for row, p in zip(chunk, classifier.predict([r[column] for r in chunk]), strict=True):
                    writer.writerow([*row, p.category, f"{p.confidence:.3f}", " ".join(p.terms)])
        os.replace(scratch, output_path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return len(rows)


def read_training_pairs(path, text_column, label_column):
    """(text, category) pairs of a CSV file for `fengqiao train-router`; every row needs both values."""
    _header, rows, (text_index, label_index) = read_table(path, [text_column, label_column])
    pairs, empty = [], []
    for line, row in rows:
        text, label = row[text_index].strip(), row[label_index].strip()
        if not text or not label:
            empty.append(line)
        pairs.append((text, label))
    if empty:
        shown = ", ".join(str(n) for n in empty[:10]) + (" …" if len(empty) > 10 else "")
        raise FileFormatError(f"{path}: {len(empty)} row(s) without text or category (line {shown})")
    if not pairs:
        raise FileFormatError(f"{path}: no data rows")
    return pairs
