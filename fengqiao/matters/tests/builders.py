"""A small world for the closed loop: 佛冈县 chain with centres at the town and the county, one grid, two
departments, and one user per part the loop needs. Permissions are given explicitly so the tests do not depend on
the role mapping (which is tested on its own)."""

import datetime

from django.utils import timezone

from fengqiao.accounts.models import MemberKind, Role
from fengqiao.accounts.services import assign_grid, grant_area_role
from fengqiao.areas.locate import invalidate
from fengqiao.areas.tests.factories import make_area, make_chain, make_grid, square
from fengqiao.centres.tests.builders import make_centre
from fengqiao.departments.models import Membership
from fengqiao.departments.tests.builders import make_category, make_department, make_user
from fengqiao.matters import services

ACTOR = "test"
GRID_POINT = (113.505, 23.705)  # inside grid G01 of the village
OUTSIDE_POINT = (113.9, 23.9)  # in Guangdong, outside every grid and boundary

CENTRE_PERMS = [
    "matters.view_matter",
    "matters.add_matter",
    "matters.triage_matter",
    "matters.unmask_reporter",
]
WORKER_PERMS = ["matters.view_matter", "matters.work_matter"]
GRID_PERMS = ["matters.view_matter", "matters.add_matter", "matters.work_matter"]
LEADER_PERMS = ["matters.view_matter", "matters.supervise_matter"]


def staff(username, area, role, perms, start=None):
    user = make_user(username, perms=perms)
    grant_area_role(actor=ACTOR, user=user, area=area, role=role, valid_from=start)
    return user


def member_of(user, department):
    Membership.objects.create(user=user, department=department, valid_from=datetime.date(2020, 1, 1))
    return user


def matter_world():
    chain = make_chain()
    invalidate()
    other_town = make_area("441821102000", "另一镇", parent=chain["county"])
    other_village = make_area("441821102001", "另一村", parent=other_town)
    grid = make_grid(chain["village"], "G01", square(113.5, 23.7))
    town_centre = make_centre(chain["town"])
    county_centre = make_centre(chain["county"])
    make_centre(other_town)
    category = make_category("M-road", "道路")
    county_dept = make_department(chain["county"], "zjj", "县住建局", catalogue=[category])
    assist_dept = make_department(chain["county"], "sw", "县水务局")
    town_dept = make_department(chain["town"], "cgb", "镇城管办")
    w = {
        "chain": chain,
        "grid": grid,
        "other_town": other_town,
        "other_village": other_village,
        "town_centre": town_centre,
        "county_centre": county_centre,
        "category": category,
        "dept": county_dept,
        "assist_dept": assist_dept,
        "town_dept": town_dept,
    }
    w["centre"] = staff("town-centre", chain["town"], Role.CENTRE_STAFF, CENTRE_PERMS)
    w["county_staff"] = staff("county-centre", chain["county"], Role.CENTRE_STAFF, CENTRE_PERMS)
    w["other_centre"] = staff("other-centre", other_town, Role.CENTRE_STAFF, CENTRE_PERMS)
    w["worker"] = member_of(staff("zjj-staff", chain["county"], Role.DEPARTMENT_STAFF, WORKER_PERMS), county_dept)
    w["assistant"] = member_of(staff("sw-staff", chain["county"], Role.DEPARTMENT_STAFF, WORKER_PERMS), assist_dept)
    w["town_worker"] = member_of(staff("cgb-staff", chain["town"], Role.DEPARTMENT_STAFF, WORKER_PERMS), town_dept)
    w["gridder"] = staff("gridder", chain["village"], Role.GRID_MEMBER, GRID_PERMS)
    assign_grid(actor=ACTOR, user=w["gridder"], grid=grid, member_kind=MemberKind.FULL_TIME)
    w["leader"] = staff("leader", chain["county"], Role.LEADER, LEADER_PERMS)
    w["citizen"] = make_user("citizen")
    return w


def submit(w, **fields):
    data = {
        "actor": w.get("citizen"),
        "channel": "snap",
        "title": "路灯不亮",
        "description": "村口路灯坏了三天",
        "lon": GRID_POINT[0],
        "lat": GRID_POINT[1],
        "reporter": w.get("citizen"),
        "reporter_name": "欧阳娜娜",
        "reporter_phone": "13800138000",
        **fields,
    }
    matter, _created = services.submit(**data)
    return matter


def now_plus(**delta):
    return timezone.now() + datetime.timedelta(**delta)


# --- Matters in a given state, and the actors that must be refused (transition, deadline and sweep tests) -----

OTHER_GRID_POINT = (113.605, 23.805)  # inside grid G02 of the other village


def jpeg_bytes(color=(200, 30, 30), size=(32, 24)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def add_evidence(w, matter, user=None):
    """An uploaded photo of `matter` (by the grid member unless `user` is given); returns its id."""
    attachment = services.add_photo(matter, actor=user or w["gridder"], name="evidence.jpg", data=jpeg_bytes())
    return attachment.pk


def wrong_actors(w):
    """Users who must be refused: a grid member of another grid, a leader of another town, a citizen who did not
    report the matter, and a volunteer over the county (a role without matters permissions)."""
    other_grid = make_grid(w["other_village"], "G02", square(113.6, 23.8))
    w["other_gridder"] = staff("other-gridder", w["other_village"], Role.GRID_MEMBER, GRID_PERMS)
    assign_grid(actor=ACTOR, user=w["other_gridder"], grid=other_grid, member_kind=MemberKind.FULL_TIME)
    invalidate()
    w["other_leader"] = staff("other-leader", w["other_town"], Role.LEADER, LEADER_PERMS)
    w["other_citizen"] = make_user("other-citizen")
    w["bare"] = staff("bare-staff", w["chain"]["county"], Role.VOLUNTEER, [])
    return w


def whistle_targets(w):
    """The lead department and an assisting one (吹哨报到)."""
    return [{"department": w["dept"].pk}, {"department": w["assist_dept"].pk, "role": "assist"}]


# The steps that bring a fresh matter into each state of the matter workflow: (action, actor key, payload).
# A payload value may be a callable of (w, matter), evaluated when the step runs.
PATHS = {
    "submitted": [],
    "accepted": [("accept", "centre", {})],
    "declined": [("decline", "centre", {"reason": "不属于受理范围"})],
    "merged": [("merge", "centre", {"parent": lambda w, m: submit(w, title="重复反映").tracking_code})],
}
PATHS["dispatched"] = PATHS["accepted"] + [("dispatch", "centre", {"targets": lambda w, m: whistle_targets(w)})]
PATHS["in_progress"] = PATHS["dispatched"] + [("acknowledge", "worker", {})]
PATHS["waiting"] = PATHS["in_progress"] + [("wait_for_reporter", "worker", {"reason": "联系不上反映人"})]
PATHS["handled"] = PATHS["in_progress"] + [("handle", "worker", {"result": "已更换灯泡"})]
PATHS["verified"] = PATHS["handled"] + [("verify", "centre", {})]
PATHS["replied"] = PATHS["verified"] + [("reply", "centre", {"reply": "已修复，感谢反映"})]
PATHS["closed"] = PATHS["replied"] + [("rate", "citizen", {"rating": "satisfied"})]


def run_steps(w, matter, steps, *, now=None):
    from fengqiao.matters.engine import perform

    for action, who, payload in steps:
        values = {k: (v(w, matter) if callable(v) else v) for k, v in payload.items()}
        perform(matter, action, actor=w[who], payload=values, now=now)
    return matter


def matter_in(w, state, *, now=None, **fields):
    """A new matter brought into `state` by the steps of `PATHS[state]` (all at `now` when given)."""
    matter = submit(w, **fields)
    return run_steps(w, matter, PATHS[state], now=now)
