"""A small world for scoping and authorisation tests: two towns under one county, each with a centre, a
department, a grid; the five actors of the authorisation matrix. Built through the services."""

import datetime

from fengqiao.accounts.models import Role
from fengqiao.accounts.services import grant_area_role
from fengqiao.areas.models import AreaChange
from fengqiao.areas.tests.factories import make_area, make_boundary, make_chain, make_grid, square
from fengqiao.centres import services as centres
from fengqiao.centres.tests.builders import make_centre, make_space, station
from fengqiao.departments.tests.builders import make_category, make_department, make_user

SINCE = datetime.date(2025, 1, 1)
ACTORS = ["anonymous", "citizen", "other_town", "this_town", "county_leader"]


def grant(user, area, *roles):
    for role in roles:
        grant_area_role(actor="test", user=user, area=area, role=role, valid_from=SINCE)
    return user


def town_staff(username, town):
    """Centre staff and administrator of a town: the same permissions in either town, so a refusal between
    towns is the scope's doing, not a missing permission."""
    return grant(make_user(username), town, Role.CENTRE_STAFF, Role.ADMINISTRATOR)


def build_world():
    chain = make_chain()
    county, town, village = chain["county"], chain["town"], chain["village"]
    other = make_area("441821102000", "另一镇", county)
    make_area("441821102201", "另一村", other)
    make_boundary(town, square(113.5, 23.7, 0.1))
    AreaChange.objects.create(area=village, edition="2024", kind="created")
    grid = make_grid(village, "G01", square(113.5, 23.7))
    make_grid(other, "G02", square(113.7, 23.7))
    centre = make_centre(town)
    make_centre(other)
    space = make_space(centre)
    department = make_department(town, "sfs", "汤塘司法所")
    make_department(other, "sfs", "另一镇司法所")
    stationing = station(centre, department, make_user("li"), space=space)
    category = make_category("T-x")
    reception = centres.log_reception(actor="test", centre=centre, purpose="咨询", visitor_phone="13800138000")
    actors = {
        "anonymous": None,
        "citizen": grant(make_user("citizen"), village, Role.CITIZEN),
        "other_town": town_staff("other-town", other),
        "this_town": town_staff("this-town", town),
        "county_leader": grant(make_user("county-leader"), county, Role.LEADER),
    }
    return {
        "chain": chain,
        "other_town": other,
        "grid": grid,
        "centre": centre,
        "space": space,
        "department": department,
        "stationing": stationing,
        "category": category,
        "reception": reception,
        "newcomer": make_user("zhao"),
        "actors": actors,
    }
