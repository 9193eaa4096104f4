"""Small, explicit builders for department and category tests (they go through the services)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from fengqiao.departments import services
from fengqiao.departments.models import Category

ACTOR = "test"


def make_user(username="staff", *, perms=(), superuser=False, **extra):
    """A user; `perms` are "app_label.codename" strings."""
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(username=username, password=None, **extra)
    user = User.objects.create_user(username=username, password=None, **extra)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def make_category(code, name=None, parent=None, **extra):
    return services.create_category(actor=ACTOR, code=code, name=name or f"category {code}", parent=parent, **extra)


def make_category_chain(*codes, scheme=Category.Scheme.LOCAL):
    """make_category_chain("T1", "T1.1", "T1.1.1") -> [root, child, grandchild]."""
    out, parent = [], None
    for code in codes:
        parent = make_category(code, parent=parent, scheme=scheme)
        out.append(parent)
    return out


def make_department(area, code, name=None, *, catalogue=(), **extra):
    department = services.create_department(
        actor=ACTOR, area=area, code=code, name=name or f"department {code}", **extra
    )
    if catalogue:
        services.set_catalogue(department, actor=ACTOR, entries=catalogue)
    return department
