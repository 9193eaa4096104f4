"""What the router advises for a matter, and why (issue 6: 智能派单; PIPL art. 24: an automated decision is
explained to the people it concerns and to the staff who act on it).

`advise(matter)` classifies the matter's title and description with the active model (`routing.store`), maps the
model's class to the category of the same name in the 12345 scheme of the category tree (the seed list's first
seven names are the model's seven classes), and looks up the departments the area's catalogue makes responsible
for that category (`departments.selectors.responsible_departments`, lead units first). At or above the
confidence threshold (``FENGQIAO_ROUTER_THRESHOLD``, 0.6 [I]) the advice is to route; below it, to triage by
hand. Every advice carries its reasons: the class, the confidence, the terms that weighed most, the catalogue line.

Nothing is written here: staff act on the advice through the engine (dispatch, or setting the category).
"""

import dataclasses

from django.conf import settings
from django.utils.translation import gettext as _

from fengqiao.departments.models import Category
from fengqiao.departments.selectors import responsible_departments
from fengqiao.routing.store import get_classifier

THRESHOLD = 0.6  # [I] below it a person decides (FENGQIAO_ROUTER_THRESHOLD)


def threshold() -> float:
    return float(getattr(settings, "FENGQIAO_ROUTER_THRESHOLD", THRESHOLD))


@dataclasses.dataclass
class Advice:
    label: str  # the model's class, "" when the text holds no term the model knows
    confidence: float
    terms: tuple[str, ...]
    category: Category | None  # the category of the tree named like the class (None: the tree lacks it)
    departments: list  # responsible in the matter's area for that category, lead units first
    decision: str  # "route" or "triage"
    reasons: list[str]


def advise(matter) -> Advice:
    text = " ".join(part for part in (matter.title, matter.description) if part)
    prediction = get_classifier().predict([text])[0]
    reasons = []
    category = None
    if prediction.category:
        category = Category.objects.filter(
            scheme=Category.Scheme.HOTLINE, name=prediction.category, active=True
        ).first()
        reasons.append(
            _("The model reads it as %(label)s with confidence %(confidence).0f%% (terms: %(terms)s).")
            % {
                "label": prediction.category,
                "confidence": prediction.confidence * 100,
                "terms": "、".join(prediction.terms) or "—",
            }
        )
    else:
        reasons.append(_("The text holds no term the model knows."))
    departments = responsible_departments(matter.area, category) if category is not None else []
    if prediction.category and category is None:
        reasons.append(
            _("The category tree has no active 12345 category named %(label)s.") % {"label": prediction.category}
        )
    for department in departments[:3]:
        line = department.responsibility
        role = _("lead") if line.lead else _("assisting")
        reasons.append(
            _("The catalogue of %(area)s makes %(department)s responsible (%(role)s) for %(category)s.")
            % {
                "area": department.area.name,
                "department": department.name,
                "role": role,
                "category": line.category.name,
            }
        )
    if category is not None and not departments:
        reasons.append(_("No department of the catalogue is responsible for it here."))
    confident = bool(prediction.category) and prediction.confidence >= threshold()
    decision = "route" if confident and category is not None and departments else "triage"
    if decision == "triage":
        reasons.append(
            _("Manual triage: below the threshold of %(threshold).0f%% or nobody to route to.")
            % {"threshold": threshold() * 100}
        )
    return Advice(
        label=prediction.category,
        confidence=round(float(prediction.confidence), 4),
        terms=tuple(prediction.terms),
        category=category,
        departments=departments,
        decision=decision,
        reasons=reasons,
    )
