"""What an import run shows and leaves behind: the result and its last line, the progress line on stderr, the
report file. See `fengqiao.matters.importer`."""

import csv
import dataclasses
import datetime
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from fengqiao.matters.importer.reading import MatterImportError


@dataclasses.dataclass
class ImportResult:
    file: str
    source: str
    report: Path
    total: int | None = 0
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    warnings: int = 0
    located: dict = dataclasses.field(default_factory=dict)
    dry_run: bool = False
    complete: bool = False
    helper_batches: int = 0  # batches encrypted in the helper process
    seconds: float = 0.0

    def last_line(self):
        imported = 0 if self.dry_run else self.imported
        return f"imported {imported}, duplicates {self.duplicates}, rejected {self.rejected} (report: {self.report})"

    def lines(self):
        rate = self.read / self.seconds if self.seconds else 0
        where = ", ".join(f"{k} {v}" for k, v in sorted(self.located.items())) or "nothing"
        lines = [
            f"read {self.read} rows of {self.file} in {self.seconds:.1f} s ({rate:,.0f} rows/s)",
            f"located by: {where}; warnings {self.warnings}",
        ]
        if self.dry_run:
            lines.append(f"dry run: nothing written (would import {self.imported})")
        return [*lines, self.last_line()]


class Progress:
    """A progress line on a stream: rows, rows/s and ETA. On a terminal one line redrawn in place (``\\r``) several
    times a second; otherwise (a log file, a pipe) a line at most every `LOG_EVERY` seconds and one at the end."""

    TTY_EVERY = 0.2
    LOG_EVERY = 10.0

    def __init__(self, stream, total, *, clock=time.perf_counter):
        self.stream = getattr(stream, "_out", stream)  # Django's OutputWrapper would add line ends
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = total
        self.clock = clock
        self.started = self.shown = clock()

    def line(self, done):
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = done / elapsed
        if self.total:
            left = max(self.total - done, 0) / rate if rate else 0
            eta = str(datetime.timedelta(seconds=round(left)))
            return f"{done:,}/{self.total:,} rows ({min(done / self.total, 1):.0%}), {rate:,.0f} rows/s, ETA {eta}"
        return f"{done:,} rows, {rate:,.0f} rows/s"

    def update(self, done, *, final=False):
        if self.stream is None:
            return
        now = self.clock()
        if not final and now - self.shown < (self.TTY_EVERY if self.tty else self.LOG_EVERY):
            return
        self.shown = now
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line(done) + ("\n" if final else ""))
        else:
            self.stream.write(self.line(done) + "\n")
        self.stream.flush()


class Report:
    """The report file (CSV, UTF-8 with BOM for Excel): rejected rows, repeated ids and warnings; no personal data."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = self.path.open("w", encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise MatterImportError(f"report {self.path}: cannot write ({exc.strerror or exc})") from None
        self.writer = csv.writer(self.fh)
        self.writer.writerow(["row", "record_id", "kind", "reason"])

    def add(self, number, record_id, kind, reason):
        self.writer.writerow([number, record_id, kind, reason])

    def close(self):
        self.fh.close()


def default_report_path(path, source):
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return Path(settings.DATA_DIR) / "imports" / f"{Path(path).stem}-{source}-{stamp}-report.csv"
