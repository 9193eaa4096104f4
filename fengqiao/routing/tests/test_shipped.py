"""The shipped cold-start model on the real data (skipped when the shared data folder is absent)."""

import io
import re

import pytest
from django.core.management import call_command
from django.test import override_settings

from fengqiao.routing import store, teddy
from fengqiao.routing.classifier import train_from_pairs
from fengqiao.routing.evaluation import evaluate
from fengqiao.routing.features import normalise

BASELINE = 0.873  # TF-IDF character 1–3-grams + LinearSVC on the same split (issue 6)
MEASURED = 0.8907  # the shipped model, scored once on the test rows (ADR 0017)


def test_the_shipped_model_beats_the_baseline_on_the_test_rows(shared_data):
    with override_settings(SHARED_DATA_DIR=shared_data):
        out = io.StringIO()
        call_command("eval_router", stdout=out)
    last = out.getvalue().strip().splitlines()[-1]
    match = re.fullmatch(r"router: macro-F1 (0\.\d{3}) on 1853 test rows", last)
    assert match, last
    result = evaluate(store.get_classifier(store.SHIPPED), teddy.held_out_pairs(shared_data))
    assert f"{result.macro_f1:.3f}" == match.group(1)
    assert result.macro_f1 >= MEASURED - 0.005
    assert result.macro_f1 > BASELINE
    assert result.f1[: len(store.get_classifier(store.SHIPPED).classes)].min() > 0.8


def test_cold_start_training_never_sees_a_test_title(shared_data):
    titles = teddy.labelled_titles(shared_data)
    assert (len(titles["train"]), len(titles["test"])) == (7357, 1853)
    test_titles = {normalise(t) for t, _ in titles["test"]}
    full = teddy.full_messages(shared_data)
    assert len(full) == 1803
    assert not {normalise(title) for title, _text, _category in full} & test_titles
    pairs = teddy.train_pairs(shared_data)
    assert pairs == titles["train"] + [(f"{t.strip()}。{x.strip()}", c) for t, x, c in full]


@pytest.mark.slow
def test_the_readme_command_rebuilds_the_shipped_file_byte_for_byte(shared_data, tmp_path):
    with override_settings(SHARED_DATA_DIR=shared_data):
        call_command("train_router", "--cold-start", "--output", str(tmp_path / "router.npz"), stdout=io.StringIO())
    assert (tmp_path / "router.npz").read_bytes() == store.SHIPPED.read_bytes()


def test_bench_router_reports_speed_size_and_training(shared_data, settings):
    settings.SHARED_DATA_DIR = shared_data
    lines = []
    from fengqiao.routing import bench_router

    bench_router.run(lines.append, titles=300, single=20, no_train=True)
    assert re.fullmatch(r"router: [\d,]+ titles/s on one core, model \d+\.\d MB, training not timed", lines[-1])


def test_training_from_pairs_is_the_function_the_platform_calls(shared_data):
    """`train_from_pairs` is what `train-router` (and later the closed-matters retraining) runs."""
    pairs = teddy.train_pairs(shared_data)[:600]
    model = train_from_pairs(pairs, seed=0)
    assert set(model.classes) <= {c for _, c in pairs}
