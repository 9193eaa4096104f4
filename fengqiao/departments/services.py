"""Writes to departments, the matter-category tree and the catalogue of responsibilities.

Every function takes a keyword-only ``actor`` (a User, a process name or None for the system), runs in one
transaction, records one audit event and raises ``django.core.exceptions.ValidationError`` keyed by the field
that is wrong. Callers (API, admin, importers) never write these models directly.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.areas.models import Area
from fengqiao.audit import services as audit
from fengqiao.core.changes import apply_changes
from fengqiao.departments.models import Category, Department, Responsibility


@dataclass(frozen=True)
class CatalogueEntry:
    """One line of a department's catalogue: it handles `category` (and its sub-categories)."""

    category: Category
    lead: bool = True
    note: str = ""


# --- departments -----------------------------------------------------------------------------------------

DEPARTMENT_FIELDS = ("code", "name", "short_name", "kind", "office_phone", "active")


def validate_department(department: Department, *, exclude: Iterable[str] = ()) -> None:
    """Full model validation (field formats, choices, the area+code uniqueness) plus the area rules."""
    errors = {}
    try:
        department.full_clean(exclude=list(exclude), validate_constraints=False)
    except ValidationError as exc:
        errors = {field: list(messages) for field, messages in exc.message_dict.items()}
    area = department.area if department.area_id else None
    if area is not None and not area.is_current and department._state.adding:
        errors.setdefault("area", []).append(_("Area %(code)s is retired.") % {"code": area.code})
    if area is not None and department.code and "code" not in errors:
        clash = Department.objects.filter(area=area, code=department.code).exclude(pk=department.pk)
        if clash.exists():
            errors["code"] = [
                _("Area %(area)s already has a department with code %(code)s.")
                % {"area": area.code, "code": department.code}
            ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_department(
    *,
    actor,
    area: Area,
    code: str,
    name: str,
    short_name: str = "",
    kind: str = Department.Kind.GOVERNMENT,
    office_phone: str = "",
    active: bool = True,
) -> Department:
    department = Department(
        area=area,
        code=(code or "").strip(),
        name=(name or "").strip(),
        short_name=(short_name or "").strip(),
        kind=kind,
        office_phone=(office_phone or "").strip(),
        active=active,
    )
    validate_department(department)
    department.save()
    audit.record(
        actor=actor,
        action="department.create",
        obj=department,
        summary=f"{area.code} {department.code} {department.name}",
        data={"area": area.code, "code": department.code, "kind": department.kind},
    )
    return department


@transaction.atomic
def update_department(
    department: Department,
    *,
    actor,
    code: str | None = None,
    name: str | None = None,
    short_name: str | None = None,
    kind: str | None = None,
    office_phone: str | None = None,
    active: bool | None = None,
) -> Department:
    """Change the given fields (None leaves a field as it is). The area of a department never changes."""
    department = Department.objects.select_for_update().select_related("area").get(pk=department.pk)
    given = {
        "code": code,
        "name": name,
        "short_name": short_name,
        "kind": kind,
        "office_phone": office_phone,
        "active": active,
    }
    changed = apply_changes(department, given)
    if not changed:
        return department
    validate_department(department)
    department.save(update_fields=[*changed, "updated_at"])
    audit.record(
        actor=actor,
        action="department.update",
        obj=department,
        summary=f"{department.area.code} {department.code}: {', '.join(changed)}",
        data={"changed": changed},
    )
    return department


def _entries(entries) -> list[CatalogueEntry]:
    out = []
    for entry in entries:
        if isinstance(entry, CatalogueEntry):
            out.append(entry)
        elif isinstance(entry, Category):
            out.append(CatalogueEntry(entry))
        elif isinstance(entry, dict):
            out.append(CatalogueEntry(entry["category"], bool(entry.get("lead", True)), entry.get("note") or ""))
        else:
            category, *rest = entry
            out.append(CatalogueEntry(category, *rest))
    return out


@transaction.atomic
def set_catalogue(department: Department, *, actor, entries) -> list[Responsibility]:
    """Replace the department's catalogue with `entries` (CatalogueEntry, Category, dicts or tuples).

    Lines that stay keep their row; changed lead/note are updated; missing lines are removed.
    """
    department = Department.objects.select_for_update().get(pk=department.pk)
    wanted = _entries(entries)
    seen = set()
    for entry in wanted:
        if entry.category.pk is None:
            raise ValidationError({"catalogue": [_("A category in the catalogue is not saved.")]})
        if entry.category.pk in seen:
            raise ValidationError(
                {"catalogue": [_("Category %(code)s is listed twice.") % {"code": entry.category.code}]}
            )
        seen.add(entry.category.pk)
        if len(entry.note) > Responsibility._meta.get_field("note").max_length:
            raise ValidationError({"catalogue": [_("A note is longer than 200 characters.")]})
    existing = {
        r.category_id: r for r in Responsibility.objects.filter(department=department).select_related("category")
    }
    added, updated = [], []
    gone = [r for cat_id, r in existing.items() if cat_id not in seen]
    removed = [r.category.code for r in gone]
    if gone:
        Responsibility.objects.filter(pk__in=[r.pk for r in gone]).delete()
    result = []
    for entry in wanted:
        row = existing.get(entry.category.pk)
        if row is None:
            row = Responsibility.objects.create(
                department=department, category=entry.category, lead=entry.lead, note=entry.note
            )
            added.append(entry.category.code)
        elif row.lead != entry.lead or row.note != entry.note:
            row.lead, row.note = entry.lead, entry.note
            row.save(update_fields=["lead", "note"])
            updated.append(entry.category.code)
        result.append(row)
    if added or removed or updated:
        audit.record(
            actor=actor,
            action="department.catalogue",
            obj=department,
            summary=f"{department.code}: +{len(added)} -{len(removed)} ~{len(updated)}",
            data={"added": added, "removed": removed, "updated": updated},
        )
    return result


# --- categories ------------------------------------------------------------------------------------------


def category_path(code: str, parent: Category | None) -> str:
    return f"{parent.path if parent else ''}{code}/"


def _check_category_code(code: str) -> None:
    if not code:
        raise ValidationError({"code": [_("This field cannot be blank.")]})
    if "/" in code or any(ch.isspace() for ch in code):
        raise ValidationError({"code": [_("A category code cannot contain '/' or spaces.")]})


@transaction.atomic
def create_category(
    *,
    actor,
    code: str,
    name: str,
    parent: Category | None = None,
    scheme: str | None = None,
    active: bool = True,
    order: int = 100,
) -> Category:
    """Create a category; a sub-category inherits its parent's scheme unless one is given."""
    code = (code or "").strip()
    _check_category_code(code)
    if scheme is None:
        scheme = parent.scheme if parent else Category.Scheme.LOCAL
    category = Category(
        code=code,
        name=(name or "").strip(),
        parent=parent,
        scheme=scheme,
        path=category_path(code, parent),
        active=active,
        order=order,
    )
    category.full_clean()
    category.save()
    audit.record(
        actor=actor,
        action="category.create",
        obj=category,
        summary=f"{category.path} {category.name}",
        data={"code": code, "parent": parent.code if parent else None, "scheme": scheme},
    )
    return category


@transaction.atomic
def update_category(
    category: Category,
    *,
    actor,
    name: str | None = None,
    scheme: str | None = None,
    active: bool | None = None,
    order: int | None = None,
) -> Category:
    """Change a category's own fields. Codes never change; use `move_category` to change the parent."""
    category = Category.objects.select_for_update().get(pk=category.pk)
    changed = apply_changes(category, {"name": name, "scheme": scheme, "active": active, "order": order})
    if not changed:
        return category
    category.full_clean()
    category.save(update_fields=[*changed, "updated_at"])
    audit.record(
        actor=actor,
        action="category.update",
        obj=category,
        summary=f"{category.code}: {', '.join(changed)}",
        data={"changed": changed},
    )
    return category


def check_move(category: Category, parent: Category | None) -> None:
    """A category cannot move under itself or one of its descendants."""
    if parent is not None and (parent.pk == category.pk or parent.path.startswith(category.path)):
        raise ValidationError({"parent": [_("A category cannot be moved under itself or its descendants.")]})


@transaction.atomic
def move_category(category: Category, *, actor, parent: Category | None) -> Category:
    """Put `category` (with its whole subtree) under `parent` (None: make it a root); paths are rewritten."""
    category = Category.objects.select_for_update().get(pk=category.pk)
    if parent is not None:
        parent = Category.objects.get(pk=parent.pk)  # fresh path
    check_move(category, parent)
    if category.parent_id == (parent.pk if parent else None):
        return category
    old_path, new_path = category.path, category_path(category.code, parent)
    if len(new_path) > len(old_path):
        longest = Category.objects.filter(path__startswith=old_path).aggregate(n=Max(Length("path")))["n"]
        limit = Category._meta.get_field("path").max_length
        if (longest or 0) + len(new_path) - len(old_path) > limit:
            raise ValidationError({"parent": [_("The tree would become too deep (paths over %(n)d).") % {"n": limit}]})
    old_parent = category.parent.code if category.parent_id else None
    subtree = Category.objects.filter(path__startswith=old_path)
    count = subtree.update(path=Concat(Value(new_path), Substr("path", len(old_path) + 1)), updated_at=timezone.now())
    Category.objects.filter(pk=category.pk).update(parent=parent)
    category.refresh_from_db()
    audit.record(
        actor=actor,
        action="category.move",
        obj=category,
        summary=f"{old_path} -> {new_path}",
        data={
            "from_parent": old_parent,
            "to_parent": parent.code if parent else None,
            "old_path": old_path,
            "new_path": new_path,
            "subtree": count,
        },
    )
    return category


def add_member(*, actor, user, department: Department, valid_from=None, valid_to=None):
    """Record that `user` works for `department` (what a department's dispatches reach; ADR 0013)."""
    import datetime as _dt

    from django.utils import timezone

    from fengqiao.departments.models import Membership

    valid_from = valid_from or timezone.localdate()
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError({"valid_to": _("The last day lies before the first.")})
    if not user.is_active:
        raise ValidationError({"user": _("User %(user)s is deactivated.") % {"user": user}})
    overlapping = Membership.objects.filter(user=user, department=department).filter(
        models_q_overlap(valid_from, valid_to or _dt.date.max)
    )
    if overlapping.exists():
        raise ValidationError(
            {
                "user": _("%(user)s already works for %(department)s in that period.")
                % {"user": user, "department": department}
            }
        )
    with transaction.atomic():
        membership = Membership.objects.create(
            user=user, department=department, valid_from=valid_from, valid_to=valid_to
        )
        audit.record(
            actor=actor,
            action="departments.membership.add",
            obj=membership,
            area=department.area,
            data={"user": user.pk, "department": department.pk, "valid_from": valid_from.isoformat()},
        )
    return membership


def end_member(membership, *, actor, valid_to):
    if valid_to is None:
        raise ValidationError({"valid_to": _("Give the last day of the membership.")})
    if valid_to < membership.valid_from:
        raise ValidationError({"valid_to": _("The last day lies before the first.")})
    with transaction.atomic():
        before = membership.valid_to
        membership.valid_to = valid_to
        membership.save(update_fields=["valid_to"])
        audit.record(
            actor=actor,
            action="departments.membership.end",
            obj=membership,
            area=membership.department.area,
            before={"valid_to": before.isoformat() if before else None},
            after={"valid_to": valid_to.isoformat()},
        )
    return membership


def models_q_overlap(start, end):
    from django.db.models import Q

    return Q(valid_from__lte=end) & (Q(valid_to__isnull=True) | Q(valid_to__gte=start))
