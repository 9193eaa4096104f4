"""Reads of departments and the catalogue. Routing asks `responsible_departments` who handles a matter."""

from django.db.models import Prefetch, QuerySet

from fengqiao.areas.models import Area
from fengqiao.departments.models import Category, Department, Responsibility


def _prefix_paths(path: str) -> list[str]:
    """'a/b/c/' -> ['a/b/c/', 'a/b/', 'a/'] (self first, root last)."""
    parts = [p for p in path.strip("/").split("/") if p]
    return ["".join(f"{p}/" for p in parts[: i + 1]) for i in range(len(parts) - 1, -1, -1)]


def responsible_departments(area: Area, category: Category) -> list[Department]:
    """Departments responsible for `category` in `area`, best first — one query, whatever the depths.

    The area chain is walked upwards (the area itself, then its parent … up to the province) and so is the
    category chain (the category itself, then its parent …). Order: nearest area first; within an area the
    most specific category first; within that, lead units (主办) before assisting ones (协办); then by code.
    A department appears once, at its best position. Inactive departments are left out. Each returned
    department carries the catalogue line that matched as ``department.responsibility``.
    """
    area_rank = {p: i for i, p in enumerate(_prefix_paths(area.path))}
    category_rank = {p: i for i, p in enumerate(_prefix_paths(category.path))}
    rows = (
        Responsibility.objects.filter(
            department__area__path__in=list(area_rank),
            category__path__in=list(category_rank),
            department__active=True,
        )
        .select_related("department__area", "category")
        .order_by()
    )

    def rank(row):
        return (
            area_rank[row.department.area.path],
            category_rank[row.category.path],
            not row.lead,
            row.department.code,
            row.department_id,
        )

    seen, out = set(), []
    for row in sorted(rows, key=rank):
        if row.department_id in seen:
            continue
        seen.add(row.department_id)
        department = row.department
        department.responsibility = row
        out.append(department)
    return out


def departments_with_catalogue(queryset: QuerySet | None = None) -> QuerySet:
    """Departments with their area and catalogue (and each line's category) loaded in two extra queries."""
    queryset = Department.objects.all() if queryset is None else queryset
    return queryset.select_related("area").prefetch_related(
        Prefetch(
            "responsibility_set",
            queryset=Responsibility.objects.select_related("category").order_by("category__path"),
            to_attr="catalogue",
        )
    )


def departments_in(area: Area, *, include_inactive: bool = False) -> QuerySet:
    """Departments of `area` and of every area below it."""
    queryset = Department.objects.filter(area__path__startswith=area.path)
    return queryset if include_inactive else queryset.filter(active=True)


def category_subtree(category: Category, *, include_self: bool = True) -> QuerySet:
    queryset = Category.objects.filter(path__startswith=category.path)
    return queryset if include_self else queryset.exclude(pk=category.pk)


def category_ancestors(category: Category, *, include_self: bool = False) -> list[Category]:
    """Root first."""
    paths = _prefix_paths(category.path)
    if not include_self:
        paths = paths[1:]
    by_path = {c.path: c for c in Category.objects.filter(path__in=paths)}
    return [by_path[p] for p in reversed(paths) if p in by_path]
