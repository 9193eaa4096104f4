import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from fengqiao.routing.classifier import Classifier, train_from_pairs
from fengqiao.routing.tests.corpus import pairs


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return train_from_pairs(pairs(), seed=0).save(tmp_path_factory.mktemp("model") / "router.npz")


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def classify(*args):
    out = io.StringIO()
    call_command("classify", *args, stdout=out)
    return out.getvalue()


def test_classify_copies_every_column_and_adds_category_confidence_and_terms(tmp_path, model):
    rows = [["1", "幸福小区物业乱收停车费", " 原样 "], ["2", "某中学强制学生补课", ""], ["3", ""]]
    source = write_csv(tmp_path / "in.csv", [["编号", " 诉求标题 ", "备注"], *rows], encoding="gbk")
    output = tmp_path / "out.csv"
    text = classify("--input", str(source), "--text-column", "诉求标题", "--output", str(output), "--model", str(model))
    assert "classified 3 rows" in text
    header, *written = read_csv(output)
    assert header == ["编号", " 诉求标题 ", "备注", "category", "confidence", "terms"]
    assert [r[:3] for r in written] == [*rows[:2], ["3", "", ""]]
    assert [r[3] for r in written] == ["城乡建设", "教育文体", ""]
    assert 0.33 < float(written[0][4]) <= 1 and written[2][4] == "0.000"
    assert "物业" in written[0][5].split() and written[2][5] == ""
    assert sorted(tmp_path.iterdir()) == sorted([source, output])  # no scratch file left behind


@pytest.mark.parametrize(
    ("content", "column", "message"),
    [
        (None, "标题", r"absent\.csv: file not found \(nothing written\)"),
        ([["编号", "内容"], ["1", "物业"]], "标题", r"line 1: no column '标题'; found 编号, 内容 \(nothing written\)"),
        ([["标题", "category"], ["物业", ""]], "标题", r"already has column\(s\) category"),
        ([["标题"], ["物业", "多余"]], "标题", r"line 2: more fields than the header has"),
        ([], "标题", r"empty file"),
    ],
)
def test_classify_refuses_bad_input_and_writes_nothing(tmp_path, model, content, column, message):
    source = tmp_path / "absent.csv"
    if content is not None:
        source = write_csv(tmp_path / "in.csv", content)
    output = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=message):
        classify("--input", str(source), "--text-column", column, "--output", str(output), "--model", str(model))
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir()] == ([] if content is None else ["in.csv"])


def test_classify_refuses_a_spreadsheet_a_missing_folder_and_a_missing_model(tmp_path, model):
    sheet = tmp_path / "in.csv"
    sheet.write_bytes(b"PK\x03\x04rest of an xlsx")
    with pytest.raises(CommandError, match="spreadsheet, not CSV"):
        classify(
            "--input", str(sheet), "--text-column", "x", "--output", str(tmp_path / "o.csv"), "--model", str(model)
        )
    good = write_csv(tmp_path / "good.csv", [["标题"], ["物业"]])
    with pytest.raises(CommandError, match="does not exist"):
        classify("--input", str(good), "--text-column", "标题", "--output", str(tmp_path / "no" / "o.csv"))
    with pytest.raises(CommandError, match=r"none\.npz: model file not found \(nothing written\)"):
        classify(
            "--input", str(good), "--text-column", "标题", "--output", str(tmp_path / "o.csv"), "--model", "none.npz"
        )
    assert not (tmp_path / "o.csv").exists()


def test_train_router_from_a_file_then_classify_with_it(tmp_path):
    source = write_csv(tmp_path / "train.csv", [["title", "category"], *pairs()])
    output = tmp_path / "mine.npz"
    out = io.StringIO()
    call_command(
        "train_router", "--input", str(source), "--text-column", "title", "--label-column", "category",
        "--output", str(output), "--seed", "0", stdout=out,
    )  # fmt: skip
    assert "trained on 24 texts in 3 categories" in out.getvalue()
    assert "confidence calibrated" in out.getvalue()
    model = Classifier.load(output)
    assert model.meta["source"] == "train.csv: columns title / category"
    assert model.predict(["公司拖欠工资"])[0].category == "劳动和社会保障"


def test_train_router_writes_the_deployment_model_by_default(tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    source = write_csv(tmp_path / "train.csv", [["t", "c"], *pairs()])
    call_command(
        "train_router", "--input", str(source), "--text-column", "t", "--label-column", "c", stdout=io.StringIO()
    )
    from fengqiao.routing import store

    assert store.active_path() == tmp_path / "data" / "routing" / "router.npz"
    assert store.get_classifier().meta["texts"] == 24


COLUMNS = ["--text-column", "t", "--label-column", "c"]


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        ([["t", "c"], ["物业", "城乡建设"]], ["--text-column", "t"], "needs --text-column and --label-column"),
        ([["t", "c"], ["物业", "城乡建设"]], ["--text-column", "t", "--label-column", "类别"], "no column '类别'"),
        (
            [["t", "c"], ["物业", ""], ["", "教育文体"], ["补课", "教育文体"]],
            COLUMNS,
            r"2 row\(s\) without .* \(line 2, 3\)",
        ),
        ([["t", "c"], ["物业", "城乡建设"], ["物业费", "城乡建设"]], COLUMNS, "at least two categories"),
        ([["t", "c"]], COLUMNS, "no data rows"),
    ],
)
def test_train_router_refuses_bad_input_and_writes_nothing(tmp_path, rows, args, message):
    source = write_csv(tmp_path / "train.csv", rows)
    output = tmp_path / "model.npz"
    with pytest.raises(CommandError, match=message):
        call_command("train_router", "--input", str(source), *args, "--output", str(output), stdout=io.StringIO())
    assert not output.exists()


def test_eval_router_and_cold_start_training_say_where_the_shared_data_should_be(tmp_path):
    with override_settings(SHARED_DATA_DIR=tmp_path / "absent"), pytest.raises(CommandError, match="FENGQIAO_SHARED"):
        call_command("eval_router", stdout=io.StringIO())
    output = tmp_path / "m.npz"
    with override_settings(SHARED_DATA_DIR=tmp_path / "absent"), pytest.raises(CommandError, match="FENGQIAO_SHARED"):
        call_command("train_router", "--cold-start", "--output", str(output), stdout=io.StringIO())
    assert not output.exists()
