"""Small, explicit builders for centre tests (they go through the services)."""

import datetime

from fengqiao.centres import services
from fengqiao.centres.models import SpaceType

ACTOR = "test"


def space_type(code="t-hall", name="接待厅", *, is_hall=None):
    is_hall = code.endswith("hall") if is_hall is None else is_hall
    obj, _ = SpaceType.objects.get_or_create(code=code, defaults={"name": name, "is_hall": is_hall})
    return obj


def make_centre(area, name=None, **extra):
    return services.create_centre(actor=ACTOR, area=area, name=name or f"{area.name}综治中心", **extra)


def make_space(centre, code="t-mediation", name="调解室", **extra):
    return services.add_space(actor=ACTOR, centre=centre, space_type=space_type(code, name), name=name, **extra)


def station(centre, department, staff, start=datetime.date(2025, 1, 1), end=None, **extra):
    return services.station_staff(
        actor=ACTOR, centre=centre, department=department, staff=staff, valid_from=start, valid_to=end, **extra
    )
