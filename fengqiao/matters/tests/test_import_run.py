"""`fengqiao import-matters`: how a run behaves — the clocks of imported matters start at the import, the progress
line, and the two ways the clocks and timeline rows are written (ADR 0015)."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection

from fengqiao.core.crypto import lookup_hash
from fengqiao.matters import deadlines, sweep
from fengqiao.matters.engine import perform
from fengqiao.matters.importer.output import Progress
from fengqiao.matters.importer.writing import Writer
from fengqiao.matters.models import Clock, Matter, MatterEvent
from fengqiao.matters.tests.builders import GRID_POINT, matter_world, submit
from fengqiao.matters.tests.test_importer import MIXED, row, run, write_csv
from fengqiao.workdays.tests.builders import at

IMPORTED_AT = at("2026-09-30 10:00")  # the moment of the import
OLD = "2026-03-02 09:00:00"  # the hotline took the call seven months earlier
NOTHING = {"overdue": 0, "warned": 0, "supervisions_overdue": 0, "tasks_overdue": 0}


@pytest.fixture
def w(db):
    return matter_world()


# --- clocks start when the matter reaches us ----------------------------------------------------------------


def test_an_old_record_gets_its_acceptance_clock_from_the_import_not_from_its_time(w, tmp_path):
    path = write_csv(tmp_path / "old.csv", [row("OLD1", when=OLD, lon=GRID_POINT[0], lat=GRID_POINT[1])])
    run(path, tmp_path, now=IMPORTED_AT)
    matter = Matter.objects.get(external_id="OLD1")
    assert matter.submitted_at == at("2026-03-02 09:00")  # the hotline's 受理时间 is kept as the matter's time
    assert matter.created_at == matter.state_changed_at == IMPORTED_AT
    (clock,) = Clock.objects.filter(matter=matter)
    due, warn, _provisional = deadlines.compute(IMPORTED_AT, clock.amount, clock.unit, clock.warn_fraction)
    assert (clock.stage, clock.started_at, clock.due_at, clock.warn_at) == ("accept", IMPORTED_AT, due, warn)
    assert clock.due_at > IMPORTED_AT and clock.standing == "" and not matter.was_overdue

    # The same record taken in by `submit` at the same moment gets the same clock.
    submitted = submit(w, channel="12345", source="other", external_id="OLD1", now=IMPORTED_AT,
                       submitted_at=matter.submitted_at)  # fmt: skip
    twin = Clock.objects.get(matter=submitted)
    assert (twin.started_at, twin.due_at, twin.warn_at, twin.amount, twin.unit) == (
        clock.started_at, clock.due_at, clock.warn_at, clock.amount, clock.unit)  # fmt: skip


def test_the_sweep_does_not_find_an_imported_backlog_overdue_and_later_clocks_start_when_taken(w, tmp_path):
    path = write_csv(tmp_path / "old.csv", [row("OLD1", when=OLD, lon=GRID_POINT[0], lat=GRID_POINT[1])])
    run(path, tmp_path, now=IMPORTED_AT)
    matter = Matter.objects.get(external_id="OLD1")
    assert sweep.sweep(now=IMPORTED_AT + datetime.timedelta(minutes=5)) == NOTHING
    clock = Clock.objects.get(matter=matter)
    assert sweep.sweep(now=clock.due_at)["overdue"] == 1  # the clock runs, from the import

    fresh = write_csv(tmp_path / "fresh.csv", [row("OLD2", when=OLD, lon=GRID_POINT[0], lat=GRID_POINT[1])])
    run(fresh, tmp_path, now=IMPORTED_AT)
    taken = IMPORTED_AT + datetime.timedelta(hours=2)
    second = Matter.objects.get(external_id="OLD2")
    perform(second, "accept", actor=w["centre"], now=taken)
    perform(second, "dispatch", actor=w["centre"], payload={"targets": [{"department": w["dept"].pk}]}, now=taken)
    started = dict(Clock.objects.filter(matter=second).values_list("stage", "started_at"))
    assert started["accept"] == IMPORTED_AT
    assert {stage: when for stage, when in started.items() if stage != "accept"} == {
        stage: taken for stage in started if stage != "accept"
    }
    assert set(started) >= {"accept", "acknowledge", "handle"}


# --- the progress line ----------------------------------------------------------------------------------------


class Clockwork:
    """A clock for `Progress` that moves only when told (in steps binary fractions hold exactly)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_to_a_log_writes_a_line_at_most_every_ten_seconds_and_one_at_the_end():
    stream, clock = io.StringIO(), Clockwork()
    bar = Progress(stream, 4608, clock=clock)
    for done in range(1, 4609):  # an update a row, 128 rows a second: 36 s
        clock.now += 1 / 128
        bar.update(done)
    bar.update(4608, final=True)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines == [
        "1,280/4,608 rows (28%), 128 rows/s, ETA 0:00:26",  # after 10 s
        "2,560/4,608 rows (56%), 128 rows/s, ETA 0:00:16",
        "3,840/4,608 rows (83%), 128 rows/s, ETA 0:00:06",
        "4,608/4,608 rows (100%), 128 rows/s, ETA 0:00:00",  # the end
    ]


def test_a_short_import_to_a_log_writes_only_the_final_line():
    stream, clock = io.StringIO(), Clockwork()
    bar = Progress(stream, 50, clock=clock)
    for done in range(1, 51):
        clock.now += 0.1
        bar.update(done)
    bar.update(50, final=True)
    assert stream.getvalue() == "50/50 rows (100%), 10 rows/s, ETA 0:00:00\n"


def test_progress_on_a_terminal_redraws_one_line():
    stream, clock = Terminal(), Clockwork()
    bar = Progress(stream, 16, clock=clock)
    for done in range(1, 17):  # an update every 1/8 s for 2 s: redrawn at every other (0.2 s apart at least)
        clock.now += 1 / 8
        bar.update(done)
    bar.update(16, final=True)
    text = stream.getvalue()
    assert text.count("\r\x1b[K") == 8 + 1  # and once more at the end
    assert text.count("\n") == 1 and text.endswith("\r\x1b[K16/16 rows (100%), 8 rows/s, ETA 0:00:00\n")


def test_the_command_on_a_log_prints_one_progress_line(w, tmp_path):
    path = write_csv(tmp_path / "export.csv", MIXED)
    err = io.StringIO()
    call_command("import_matters", str(path), "--source", "12345", "--report", str(tmp_path / "r.csv"),
                 stdout=io.StringIO(), stderr=err)  # fmt: skip
    (line,) = err.getvalue().splitlines()
    assert line.startswith("10/10 rows (100%), ")


# --- the clocks and timeline rows: set-based (consecutive ids) and row by row write the same ---------------------


def test_set_based_and_row_by_row_writes_give_the_same_clocks_and_timeline_rows(w, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "export.csv", MIXED)
    run(path, tmp_path, source="12345", now=IMPORTED_AT)
    by_row = Writer._new_ids

    def ids_as_a_list(self, cursor, rows):
        return list(by_row(self, cursor, rows))  # not a range: the clocks and timeline rows go in one by one

    monkeypatch.setattr(Writer, "_new_ids", ids_as_a_list)
    run(path, tmp_path, source="110", now=IMPORTED_AT)

    def written(source):
        clocks = {
            c.matter.external_id: (c.stage, c.started_at, c.due_at, c.warn_at, c.amount, c.unit, c.provisional)
            for c in Clock.objects.filter(matter__source=source).select_related("matter")
        }
        events = {
            e.matter.external_id: (e.action, e.public, e.from_state, e.to_state, e.actor_label, e.at,
                                   e.payload["located_by"])
            for e in MatterEvent.objects.filter(matter__source=source).select_related("matter")
        }  # fmt: skip
        return clocks, events

    set_based, one_by_one = written("12345"), written("110")
    assert len(set_based[0]) == len(set_based[1]) == 4
    assert set_based == one_by_one
    payload = MatterEvent.objects.get(matter__source="110", matter__external_id="GD001").payload
    assert payload == {"channel": "110", "source": "110", "located_by": "grid"}


# --- encryption in a helper process -----------------------------------------------------------------------------


def test_a_helper_process_encrypts_as_the_import_itself_does(w, tmp_path):
    path = write_csv(tmp_path / "export.csv", MIXED)
    result = run(path, tmp_path, batch=2, helper=True)  # five batches: the helper encrypts one while one is written
    assert (result.imported, result.duplicates, result.rejected, result.helper_batches) == (4, 1, 5, 3)
    matters = Matter.objects.filter(source="12345").order_by("external_id")
    assert [(m.external_id, m.reporter_name, m.reporter_phone, m.reporter_phone_hash) for m in matters] == [
        ("GD001", "欧阳娜娜", "13800138000", lookup_hash("13800138000")),
        ("GD002", "欧阳娜娜", "13800138000", lookup_hash("13800138000")),
        ("GD003", "欧阳娜娜", "", ""),  # the invalid phone dropped
        ("GD010", "", "", ""),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_name FROM matters_matter WHERE external_id = 'GD001'")
        assert cursor.fetchone()[0].startswith("enc1:")


def test_a_helper_that_encrypts_with_other_keys_is_dropped_and_the_import_encrypts_itself(w, tmp_path, monkeypatch):
    lookup_hash("13800138000")  # this process has its hash key (cached), and keeps it
    monkeypatch.setenv("FENGQIAO_HASH_KEY", "another-hash-key")  # the helper reads this one
    result = run(write_csv(tmp_path / "export.csv", MIXED), tmp_path, batch=2, helper=True)
    assert (result.imported, result.helper_batches) == (4, 0)
    assert Matter.objects.get(external_id="GD001").reporter_phone_hash == lookup_hash("13800138000")
