"""The router's advice on a matter (issue 6): the model's class mapped to the 12345 category of the same name,
the departments the area's catalogue names for it, route or triage by the confidence threshold, and the reasons —
through `advise` and `GET /api/v1/matters/{id}/routing/`."""

import pytest
from django.utils import translation

from fengqiao.api.tests.helpers import client_for
from fengqiao.departments.models import Category
from fengqiao.departments.tests.builders import make_department
from fengqiao.matters import services
from fengqiao.matters.tests.builders import GRID_POINT, matter_world
from fengqiao.routing.advice import advise

LAMP = "村口路灯坏了好几天，晚上道路一片漆黑，违章搭建的棚子也挡住了路"


@pytest.fixture
def w(db):
    world = matter_world()
    world["urban"] = Category.objects.get(scheme=Category.Scheme.HOTLINE, name="城乡建设")
    world["housing"] = make_department(world["chain"]["county"], "zj2", "县住建局（路灯）", catalogue=[world["urban"]])
    return world


def intake(text):
    matter, _created = services.submit(actor="test", channel="12345", title=text[:20], description=text,
                                       lon=GRID_POINT[0], lat=GRID_POINT[1])  # fmt: skip
    return matter


def test_a_clear_matter_is_routed_to_the_catalogues_department_with_its_reasons(w):
    advice = advise(intake(LAMP))
    assert advice.label == "城乡建设" and advice.category == w["urban"]
    assert advice.confidence >= 0.6 and advice.terms
    assert w["housing"] in advice.departments and advice.decision == "route"
    text = " ".join(advice.reasons)
    assert "城乡建设" in text and "县住建局（路灯）" in text and "置信度" in text  # in Chinese by default


def test_below_the_threshold_a_person_decides(w, settings):
    settings.FENGQIAO_ROUTER_THRESHOLD = 1.01
    advice = advise(intake(LAMP))
    assert advice.label == "城乡建设" and advice.decision == "triage"
    assert "101%" in advice.reasons[-1]


def test_a_text_the_model_cannot_read_goes_to_triage(w):
    with translation.override("en"):
        advice = advise(intake("★★★ ☆☆☆"))  # no term the model knows
    assert advice.label == "" and advice.category is None and advice.departments == []
    assert advice.decision == "triage" and "no term the model knows" in " ".join(advice.reasons)


def test_a_weak_guess_goes_to_triage(w):
    advice = advise(intake("qqqq zzzz"))  # a few Latin letters: a class, with little confidence
    assert advice.confidence < 0.6 and advice.decision == "triage"


def test_no_responsible_department_means_triage(w):
    w["housing"].responsibility_set.all().delete()
    advice = advise(intake(LAMP))
    assert advice.category == w["urban"] and advice.departments == [] and advice.decision == "triage"


def test_the_api_explains_the_advice_to_staff_in_scope(w):
    matter = intake(LAMP)
    response = client_for(w["centre"]).get(f"/api/v1/matters/{matter.pk}/routing/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["label"] == "城乡建设" and body["category"] == {"code": w["urban"].code, "name": "城乡建设"}
    assert {"code": "zj2", "name": "县住建局（路灯）", "area": w["chain"]["county"].code, "lead": True} in body[
        "departments"
    ]
    assert body["decision"] == "route" and body["reasons"]
