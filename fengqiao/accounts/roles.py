"""Role → Django permissions (ADR 0009). Each role is a Group named ``role:<role>`` holding its permissions (seeded and
reset from the mapping below by data migrations; visible in the admin). Nobody is made a member of these groups: the
authentication backend (`accounts.backends`) gives a user the permissions of the role groups of their area
assignments current on the day, so a period that starts or ends by the calendar needs no job.

Permissions say *what* a role may do; the user's `Scope` says *where*. Both are needed: a permission without a
current assignment over the object's area is worth nothing on a scoped endpoint.

三权分立: the system administrator configures (reference data, centres, departments) but manages no accounts
and reads no audit trail; the security administrator manages accounts and assignments only; the audit
administrator only reads the audit trail. No user holds two of these roles at once.
"""

from fengqiao.accounts.models import Role

GROUP_PREFIX = "role:"


def _crud(app_model, *verbs):
    app, model = app_model.split(".")
    return [f"{app}.{verb}_{model}" for verb in verbs]


VIEW_ORG = ["centres.view_centre", "centres.view_servicespace", "departments.view_department"]

# The five elements (people registries; ADR 0009, amendment 1). Need to know: who collects them, who reads them.
BASE_REGISTRIES = ["people.household", "people.person", "people.building", "people.place", "people.organisation"]
VIEW_REGISTRIES = [p for model in BASE_REGISTRIES for p in _crud(model, "view")]
COLLECT_REGISTRIES = [p for model in BASE_REGISTRIES for p in _crud(model, "view", "add", "change")]

# The closed loop (ADR 0013): who takes matters in, who runs the centre's steps, who works on what is dispatched,
# who supervises. Reading a matter shows its timeline, dispatches, clocks, photos and extensions.
MATTER_VIEW = [
    "matters.view_matter",
    "matters.view_matterevent",
    "matters.view_dispatch",
    "matters.view_clock",
    "matters.view_attachment",
    "matters.view_extension",
    "matters.view_supervision",
    "matters.view_task",
]
MATTER_INTAKE = [*MATTER_VIEW, "matters.add_matter"]
MATTER_WORK = [*MATTER_VIEW, "matters.work_matter", "matters.change_task"]
MATTER_CENTRE = [
    *MATTER_INTAKE,
    "matters.work_matter",
    "matters.triage_matter",
    "matters.unmask_reporter",
    *_crud("matters.task", "add", "change"),
    "matters.view_deadlinepolicy",
]
MATTER_LEAD = [*MATTER_VIEW, "matters.supervise_matter", *_crud("matters.task", "add", "change")]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CITIZEN: [],
    Role.VOLUNTEER: [],
    Role.GRID_MEMBER: [
        "areas.view_grid",
        *COLLECT_REGISTRIES,
        "people.view_specialcare",
        *MATTER_INTAKE,
        "matters.work_matter",
    ],
    Role.INFORMANT: ["areas.view_grid", *COLLECT_REGISTRIES, "people.view_specialcare", *MATTER_INTAKE],
    Role.CENTRE_STAFF: [
        *VIEW_ORG,
        "areas.view_grid",
        *COLLECT_REGISTRIES,
        *_crud("people.specialcare", "view", "add", "change"),
        "people.unmask_person",
        "centres.change_centre",
        *_crud("centres.servicespace", "add", "change"),
        *_crud("centres.stationing", "view", "add", "change"),
        *_crud("centres.reception", "view", "add", "change"),
        *MATTER_CENTRE,
    ],
    Role.DEPARTMENT_STAFF: [
        *VIEW_ORG,
        *MATTER_WORK,
        "departments.view_responsibility",
        "people.view_place",
        "people.view_organisation",
    ],
    Role.MEDIATOR: [*VIEW_ORG, *MATTER_VIEW],
    Role.LEADER: [
        *VIEW_ORG,
        "areas.view_grid",
        "centres.view_stationing",
        "departments.view_responsibility",
        "accounts.view_areaassignment",
        "accounts.view_gridassignment",
        *VIEW_REGISTRIES,  # masked; no special care, no unmask
        *MATTER_LEAD,
    ],
    Role.ADMINISTRATOR: [
        "areas.view_grid",
        *_crud("centres.centre", "view", "add", "change"),
        *_crud("centres.servicespace", "view", "add", "change"),
        *_crud("centres.stationing", "view", "add", "change"),
        "centres.view_reception",
        *_crud("departments.department", "view", "add", "change"),
        *_crud("departments.responsibility", "view", "add", "change"),
        "accounts.view_areaassignment",
        "accounts.view_gridassignment",
        *VIEW_REGISTRIES,
        *MATTER_VIEW,
        "matters.view_deadlinepolicy",
        *_crud("departments.membership", "view", "add", "change"),  # who works for which department
    ],
    Role.SYSTEM_ADMIN: [
        *_crud("areas.gridlayer", "view", "add", "change"),
        "areas.view_area",
        "areas.view_grid",
        *_crud("departments.category", "view", "add", "change"),
        *_crud("centres.spacetype", "view", "add", "change"),
        *_crud("centres.centre", "view", "add", "change"),
        *_crud("centres.servicespace", "view", "add", "change"),
        *_crud("departments.department", "view", "add", "change"),
        *_crud("departments.responsibility", "view", "add", "change"),
        *_crud("matters.deadlinepolicy", "view", "add", "change"),
        *_crud("workdays.calendaroverride", "view", "add", "change", "delete"),
    ],
    Role.SECURITY_ADMIN: [
        *_crud("accounts.user", "view", "add", "change"),
        *_crud("accounts.areaassignment", "view", "add", "change"),
        *_crud("accounts.gridassignment", "view", "add", "change"),
        "auth.view_group",
    ],
    Role.AUDIT_ADMIN: ["audit.view_auditevent", "accounts.view_user", "accounts.view_areaassignment"],
}


def group_name(role: str) -> str:
    return f"{GROUP_PREFIX}{role}"


def seed_role_groups(Group, Permission, *, apps_ready=None):
    """Create or reset the group of every role to exactly its permissions (idempotent; migrations call it).

    ``apps_ready``: the labels of the apps whose models exist at this point of the migrations (None: all).
    Permissions of other apps are left out; the migration that depends on those apps seeds again.
    """
    wanted = {p for perms in ROLE_PERMISSIONS.values() for p in perms if _ready(p, apps_ready)}
    by_name = {}
    for perm in Permission.objects.select_related("content_type").filter(
        codename__in={p.split(".")[1] for p in wanted}
    ):
        by_name[f"{perm.content_type.app_label}.{perm.codename}"] = perm
    missing = sorted(wanted - set(by_name))
    if missing and apps_ready is None:
        raise LookupError(f"permissions not found: {missing}")
    # In a migration, the mapping is today's while the models are those of that point in history: permissions of
    # models that do not exist yet are left for the later migration that seeds again (with apps_ready=None).
    wanted -= set(missing)
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name(role))
        group.permissions.set([by_name[p] for p in perms if p in wanted])


def _ready(perm, apps_ready):
    return apps_ready is None or perm.split(".")[0] in apps_ready
