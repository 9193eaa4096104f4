"""Small, explicit builders for tests (no global fixture namespace)."""

import datetime

from shapely.geometry import box

from fengqiao.areas.codes import level_of
from fengqiao.areas.models import Area, Boundary, Grid, GridLayer
from fengqiao.areas.services import short_name_of


def make_area(code, name=None, parent=None, **extra):
    level = level_of(code)
    return Area.objects.create(
        code=code,
        name=name or f"area {code}",
        short_name=short_name_of(name or f"area {code}", level),
        level=level,
        parent=parent,
        path=f"{parent.path if parent else ''}{code}/",
        valid_from=extra.pop("valid_from", datetime.date(2022, 6, 30)),
        edition=extra.pop("edition", "test"),
        **extra,
    )


def make_chain():
    """广东省 → 清远市 → 佛冈县 → a town → a village, as a dict by level name.

    Province, city and county are real; the town and village codes and names are illustrative test data
    (in the 2022 edition 441821101000 is 水头镇), so never mix this chain with the demo build.
    """
    province = make_area("440000000000", "广东省")
    city = make_area("441800000000", "清远市", province)
    county = make_area("441821000000", "佛冈县", city)
    town = make_area("441821101000", "汤塘镇", county)
    village = make_area("441821101201", "汤塘村委会", town, urban_rural_code="220")
    return {"province": province, "city": city, "county": county, "town": town, "village": village}


def layer(code=GridLayer.COMPREHENSIVE, name="综合网格"):
    obj, _ = GridLayer.objects.get_or_create(code=code, defaults={"name": name})
    return obj


def make_grid(area, code, geom, grid_layer=None, **extra):
    grid = Grid(layer=grid_layer or layer(), code=code, name=extra.pop("name", f"grid {code}"), area=area, **extra)
    grid.set_geometry(geom)
    grid.save()
    return grid


def make_boundary(area, geom, version=1, **extra):
    boundary = Boundary(area=area, version=version, source=extra.pop("source", "test"), **extra)
    boundary.set_geometry(geom)
    boundary.save()
    return boundary


def square(x, y, size=0.01):
    return box(x, y, x + size, y + size)
