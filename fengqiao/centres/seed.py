"""Reference data for centres: the service space types of "一厅五室" (GZ2; a local scheme, see domain.md §4).

`seed_space_types` takes the model class so the data migration can pass its historical model; it creates what is
missing and never overwrites what an administrator has edited.
"""

# code, name, is_hall, order
SPACE_TYPES = [
    ("reception-hall", "群众接待厅", True, 10),
    ("dispute-mediation", "矛盾纠纷调处室", False, 20),
    ("grid-management", "网格化管理室", False, 30),
    ("psychological-counselling", "心理咨询室", False, 40),
    ("monitoring-analysis", "监控研判室", False, 50),
    ("social-work", "社会工作室", False, 60),
]
HALL = "reception-hall"


def seed_space_types(SpaceType):
    """Create the "一厅五室" space types that do not exist yet. Returns the number created."""
    created = 0
    for code, name, is_hall, order in SPACE_TYPES:
        _obj, was_created = SpaceType.objects.get_or_create(
            code=code, defaults={"name": name, "is_hall": is_hall, "order": order}
        )
        created += was_created
    return created
