import io
import zipfile

import numpy as np
import pytest

from fengqiao.routing.classifier import Classifier, ModelFileError, train_from_pairs
from fengqiao.routing.features import normalise
from fengqiao.routing.tests.corpus import CORPUS, pairs


@pytest.fixture(scope="module")
def classifier():
    return train_from_pairs(pairs(), seed=0)


def test_the_same_data_and_seed_give_a_byte_identical_model_file(tmp_path, classifier):
    again = train_from_pairs(pairs(), seed=0)
    first, second = classifier.save(tmp_path / "a.npz"), again.save(tmp_path / "b.npz")
    assert first.read_bytes() == second.read_bytes()


def test_a_saved_model_loads_without_pickle_and_predicts_exactly_the_same(tmp_path, classifier):
    path = classifier.save(tmp_path / "router.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["bias", "idf", "meta", "weights"]
    loaded = Classifier.load(path)
    texts = ["物业乱收费", "学校补课", "拖欠工资", "与本题无关的话"]
    assert loaded.predict(texts) == classifier.predict(texts)
    assert loaded.classes == classifier.classes
    assert loaded.meta == classifier.meta
    assert np.array_equal(loaded.weights, classifier.weights)


def test_predictions_give_category_probability_and_terms_of_the_text(classifier):
    texts = ["幸福小区物业乱收停车费", "某中学强制学生补课", "公司拖欠工资三个月"]
    predictions = classifier.predict(texts)
    assert [p.category for p in predictions] == ["城乡建设", "教育文体", "劳动和社会保障"]
    for text, prediction in zip(texts, predictions, strict=True):
        assert 1 / 3 < prediction.confidence <= 1
        assert prediction.terms
        assert all(term in normalise(text) for term in prediction.terms)
        # Overlapping n-grams are not repeated (物业 and 物业乱 say the same).
        assert not any(a != b and a in b for a in prediction.terms for b in prediction.terms)
    probabilities, _matrix = classifier.probabilities(texts)
    assert np.allclose(probabilities.sum(axis=1), 1)


def test_a_text_without_any_known_term_gets_no_category(classifier):
    assert [(p.category, p.confidence, p.terms) for p in classifier.predict(["", "   ", "ZZZ"])] == [("", 0.0, ())] * 3
    assert classifier.predict([]) == []


def test_confidence_is_calibrated_when_every_category_has_three_distinct_texts(classifier):
    assert classifier.meta["calibrated"] is True
    assert classifier.meta["per_category"] == {category: len(texts) for category, texts in CORPUS.items()}
    few = train_from_pairs(pairs({c: texts[:2] * 2 for c, texts in CORPUS.items()}), seed=0)
    assert few.meta["calibrated"] is False
    assert few.temperature == 1.0


def test_two_categories_are_enough(tmp_path):
    two = train_from_pairs(pairs({c: CORPUS[c] for c in ("城乡建设", "教育文体")}), seed=3)
    assert two.weights.shape[0] == 2
    assert [p.category for p in two.predict(["小区物业", "学生补课"])] == ["城乡建设", "教育文体"]


def test_training_refuses_fewer_than_two_categories():
    with pytest.raises(ValueError, match="at least two categories"):
        train_from_pairs([(t, "城乡建设") for t in CORPUS["城乡建设"]], seed=0)
    with pytest.raises(ValueError, match="at least two categories"):
        train_from_pairs([], seed=0)


def test_training_refuses_texts_that_share_no_term():
    with pytest.raises(ValueError, match="too little text"):
        train_from_pairs([("甲", "a"), ("乙", "b")], seed=0)


def test_loading_something_that_is_not_a_model_names_the_file(tmp_path, classifier):
    with pytest.raises(ModelFileError, match=r"absent\.npz: model file not found"):
        Classifier.load(tmp_path / "absent.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match=r"garbage\.npz: not a router model"):
        Classifier.load(garbage)
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros((2, 2)))
    with pytest.raises(ModelFileError, match=r"other\.npz: not a router model"):
        Classifier.load(other)
    # A model whose weights were cut short is refused rather than misread.
    path = classifier.save(tmp_path / "ok.npz")
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "weights.npy":
                buffer = io.BytesIO()
                np.save(buffer, np.zeros((1, 1), dtype=np.float32))
                data = buffer.getvalue()
            target.writestr(name, data)
    with pytest.raises(ModelFileError, match="do not match"):
        Classifier.load(broken)
