"""Reference data for the area app: the default grid layers ("three grids in one", QY4).

`seed_grid_layers` takes the model class so the data migration can pass its historical model; it creates what is
missing and never overwrites what an administrator has edited.
"""

DEFAULT_LAYERS = [
    # code, name, full_coverage, order, description
    ("comprehensive", "综合网格", True, 10, "覆盖全部辖区、无缝隙无重叠的综合网格（全域覆盖）。"),
    ("forest-chief", "林长网格", True, 20, "林长制网格：林地巡护责任区。"),
    ("river-chief", "河长网格", False, 30, "河长制网格：河湖管护责任区（只覆盖水系，不要求全域覆盖）。"),
]


def seed_grid_layers(GridLayer):
    """Create the default layers that do not exist yet. Returns the number created."""
    created = 0
    for code, name, full_coverage, order, description in DEFAULT_LAYERS:
        _obj, was_created = GridLayer.objects.get_or_create(
            code=code,
            defaults={"name": name, "full_coverage": full_coverage, "order": order, "description": description},
        )
        created += was_created
    return created
