"""Role → Django permissions (ADR 0009). Each role is a Group named ``role:<role>``; granting an area
assignment puts the user in the role's group, ending the last one takes them out (`services`).

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

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CITIZEN: [],
    Role.VOLUNTEER: [],
    Role.GRID_MEMBER: ["areas.view_grid", *COLLECT_REGISTRIES, "people.view_specialcare"],
    Role.INFORMANT: ["areas.view_grid", *COLLECT_REGISTRIES, "people.view_specialcare"],
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
    ],
    Role.DEPARTMENT_STAFF: [
        *VIEW_ORG,
        "departments.view_responsibility",
        "people.view_place",
        "people.view_organisation",
    ],
    Role.MEDIATOR: [*VIEW_ORG],
    Role.LEADER: [
        *VIEW_ORG,
        "areas.view_grid",
        "centres.view_stationing",
        "departments.view_responsibility",
        "accounts.view_areaassignment",
        "accounts.view_gridassignment",
        *VIEW_REGISTRIES,  # masked; no special care, no unmask
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
    if missing:
        raise LookupError(f"permissions not found: {missing}")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name(role))
        group.permissions.set([by_name[p] for p in perms if _ready(p, apps_ready)])


def _ready(perm, apps_ready):
    return apps_ready is None or perm.split(".")[0] in apps_ready
