import numpy as np
import pytest
import shapely
from django.urls import path
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from shapely.geometry import box

from fengqiao.api.locate import LocateView
from fengqiao.areas import locate as locate_module
from fengqiao.areas.grids import UnknownLayerError, create_grid, retire_grid, update_grid
from fengqiao.areas.locate import invalidate, locate, locate_many
from fengqiao.areas.locate_index import GridIndex
from fengqiao.areas.tests.factories import layer, make_area, make_boundary, make_chain, make_grid, square
from fengqiao.core.geo import GeoError

urlpatterns = [path("api/v1/locate", LocateView.as_view())]


# --- the index against brute force ------------------------------------------------------------------------


def _star(rng, cx, cy, radius, corners):
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    r = radius * rng.uniform(0.3, 1.0, corners)
    return shapely.make_valid(shapely.Polygon(np.column_stack([cx + r * np.cos(angles), cy + r * np.sin(angles)])))


def random_world(rng):
    """Irregular grids: a Voronoi tiling with a star-shaped lake cut out (concave cells, holes, multi-part),
    overlapping concave stars (some with holes, some multi-part), or exactly aligned squares."""
    x0, y0 = 113.0 + rng.uniform(-1, 1), 23.0 + rng.uniform(-1, 1)
    kind = int(rng.integers(0, 4))
    polygons = []
    if kind in (0, 3):
        n = int(rng.integers(2, 40))
        seeds = shapely.points(x0 + rng.uniform(0, 0.1, n), y0 + rng.uniform(0, 0.1, n))
        frame = shapely.box(x0, y0, x0 + 0.1, y0 + 0.1)
        cells = shapely.intersection(
            shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame)), frame
        )
        polygons += list(shapely.difference(cells, _star(rng, x0 + 0.05, y0 + 0.05, 0.02, 12)))
    if kind in (1, 3):
        for _ in range(int(rng.integers(1, 25))):
            cx, cy = x0 + rng.uniform(0, 0.1), y0 + rng.uniform(0, 0.1)
            poly = _star(rng, cx, cy, rng.uniform(0.002, 0.03), int(rng.integers(3, 30)))
            variant = int(rng.integers(0, 3))
            if variant == 1:
                poly = shapely.difference(poly, _star(rng, cx, cy, rng.uniform(0.001, 0.01), 8))
            elif variant == 2:
                poly = shapely.union(poly, _star(rng, cx + 0.04, cy, 0.01, 7))
            polygons.append(poly)
    if kind == 2:
        side = float(rng.choice([0.01, 0.005, 0.0125]))
        for i in range(int(rng.integers(1, 8))):
            for j in range(int(rng.integers(1, 8))):
                polygons.append(shapely.box(113 + i * side, 23 + j * side, 113 + (i + 1) * side, 23 + (j + 1) * side))
    polygons = [shapely.make_valid(p) for p in polygons]
    return np.array([p for p in polygons if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0], dtype=object)


def probe_points(rng, polygons, count):
    """Random points around the polygons, plus points exactly on vertices and on edge midpoints."""
    minx, miny, maxx, maxy = shapely.total_bounds(polygons)
    x, y = rng.uniform(minx - 0.01, maxx + 0.01, count), rng.uniform(miny - 0.01, maxy + 0.01, count)
    vertices = shapely.get_coordinates(polygons)
    vertices = vertices[rng.integers(0, len(vertices), count // 10)]
    lines = shapely.get_coordinates(shapely.boundary(polygons))
    middles = ((lines[:-1] + lines[1:]) / 2)[rng.integers(0, len(lines) - 1, count // 10)]
    return np.r_[x, vertices[:, 0], middles[:, 0]], np.r_[y, vertices[:, 1], middles[:, 1]]


def brute_force(polygons, x, y):
    """Lowest polygon that intersects each point, by testing every pair."""
    hits = shapely.intersects(polygons[:, None], shapely.points(x, y)[None, :])
    return np.where(hits.any(axis=0), hits.argmax(axis=0), -1)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), cells_per_grid=st.sampled_from([1, 2, 3, 5, 10, 25]))
def test_index_answers_exactly_like_brute_force_on_random_irregular_grids(seed, cells_per_grid):
    rng = np.random.default_rng(seed)
    polygons = random_world(rng)
    if not len(polygons):
        return
    index = GridIndex(polygons, cells_per_grid=cells_per_grid)
    x, y = probe_points(rng, polygons, 1500)
    assert np.array_equal(index.query(x, y), brute_force(polygons, x, y))


def test_index_decides_most_edge_cell_points_without_the_tree():
    rng = np.random.default_rng(3)
    seeds = rng.uniform(0, 1, (3000, 2)) + np.array([113, 23])
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box(113, 23, 114, 24)))
    cells = shapely.intersection(cells, box(113, 23, 114, 24))
    index = GridIndex(cells, cells_per_grid=10)
    x, y = rng.uniform(113, 114, 50_000), rng.uniform(23, 24, 50_000)
    assert np.array_equal(index.query(x, y), index.query_tree(x, y))
    assert index.last_exact > 5000 and index.last_fallback < index.last_exact * 0.05
    assert 0.1 < index.exact_fraction < 0.5


def test_index_gives_shared_edges_and_vertices_to_the_lowest_polygon():
    polygons = np.array([box(113.0, 23.0, 113.01, 23.01), box(113.01, 23.0, 113.02, 23.01)], dtype=object)
    index = GridIndex(polygons[::-1], ids=[20, 10], cells_per_grid=4)
    x, y = np.array([113.01, 113.01, 113.005, 113.015, 113.03]), np.array([23.005, 23.01, 23.005, 23.005, 23.0])
    assert index.query(x, y).tolist() == [0, 0, 1, 0, -1]
    assert index.query_ids(x, y).tolist() == [20, 20, 10, 20, -1]


@pytest.mark.parametrize("order", [1, -1])
def test_index_gives_overlapping_grids_to_the_lowest_position(order):
    big, small = box(113.0, 23.0, 113.1, 23.1), box(113.041, 23.043, 113.0437, 23.0468)
    polygons = np.array([big, small][::order], dtype=object)
    index = GridIndex(polygons, cells_per_grid=40)  # small's edges lie in cells wholly inside big
    x, y = np.array([113.042, 113.02, 113.0436]), np.array([23.044, 23.02, 23.0467])
    expected = [0, 0, 0] if order == 1 else [0, 1, 0]
    assert index.query(x, y).tolist() == expected
    assert (index.cover >= 0).any()  # cells of the small grid lie wholly inside the big one


def test_empty_index_finds_nothing():
    index = GridIndex([], cells_per_grid=10)
    assert index.query([113.0, 114.0], [23.0, 24.0]).tolist() == [-1, -1]


def test_index_respects_the_cell_budget():
    index = GridIndex([box(110, 20, 117, 25), box(113, 23, 113.0001, 23.0001)], cells_per_grid=10, max_cells=100_000)
    assert index.raster.size <= 100_000
    assert index.query([113.00005, 115.0, 100.0], [23.00005, 21.0, 20.0]).tolist() == [0, 0, -1]


# --- locate() against the database --------------------------------------------------------------------------


@pytest.fixture
def world(db, settings):
    """汤塘村 has two grids (west, east) of its town; the town and the county have boundaries."""
    settings.LOCATE_REFRESH_SECONDS = 0
    invalidate()
    chain = make_chain()
    layer()
    make_boundary(chain["county"], box(113.0, 23.0, 114.0, 24.0))
    make_boundary(chain["town"], box(113.4, 23.7, 113.7, 23.9))
    chain["west"] = make_grid(chain["village"], "W", box(113.5, 23.8, 113.51, 23.81))
    chain["east"] = make_grid(chain["village"], "E", box(113.51, 23.8, 113.52, 23.81))
    yield chain
    invalidate()


def test_locate_finds_the_grid_and_the_chain_from_the_province(world):
    result = locate(113.505, 23.805)
    assert result.grid == world["west"] and result.method == "grid"
    assert result.area == world["village"]
    assert [a.code for a in result.chain] == [
        "440000000000",
        "441800000000",
        "441821000000",
        "441821101000",
        "441821101201",
    ]


def test_locate_falls_back_to_the_smallest_area_whose_boundary_contains_the_point(world):
    in_town = locate(113.6, 23.75)
    assert in_town.grid is None and in_town.area == world["town"] and in_town.method == "area-boundary"
    assert "no grid of layer comprehensive contains the point" in in_town.reason
    assert [a.code for a in in_town.chain][-1] == "441821101000"
    assert locate(113.2, 23.2).area == world["county"]


def test_locate_outside_every_area_says_so(world):
    result = locate(115.0, 23.0)
    assert (result.grid, result.area, result.chain, result.method) == (None, None, [], "none")
    assert "outside every area" in result.reason


@pytest.mark.parametrize(
    ("lon", "lat", "message"),
    [(23.805, 113.505, "looks swapped"), (2.35, 48.85, "outside China"), ("x", 23, "must be numbers")],
)
def test_locate_refuses_bad_coordinates(world, lon, lat, message):
    with pytest.raises(GeoError, match=message):
        locate(lon, lat)


def test_locate_with_an_unknown_layer_lists_the_layers(world):
    with pytest.raises(UnknownLayerError, match="existing layers: comprehensive"):
        locate(113.505, 23.805, layer="nope")


def test_locate_uses_the_layer_asked_for(world):
    river = layer("river", "河长网格")
    stream = make_grid(world["village"], "R1", box(113.5, 23.8, 113.52, 23.81), river)
    assert locate(113.515, 23.805, layer="river").grid == stream
    assert locate(113.515, 23.805).grid == world["east"]


def test_locate_sees_a_changed_grid_after_the_refresh_interval(world, settings):
    assert locate(113.525, 23.805).grid is None
    update_grid(actor=None, grid=world["east"], geometry=box(113.51, 23.8, 113.53, 23.81))
    assert locate(113.525, 23.805).grid == world["east"]
    retire_grid(actor=None, grid=world["east"])
    assert locate(113.525, 23.805).grid is None
    new = create_grid(
        actor=None,
        layer="comprehensive",
        code="N",
        name="新",
        area=world["village"],
        geometry=box(113.52, 23.8, 113.53, 23.81),
    )
    assert locate(113.525, 23.805).grid == new


def test_locate_keeps_its_index_until_the_refresh_interval_or_invalidate(world, settings):
    settings.LOCATE_REFRESH_SECONDS = 3600
    locate(113.505, 23.805)
    update_grid(actor=None, grid=world["east"], geometry=box(113.51, 23.8, 113.53, 23.81))
    assert locate(113.525, 23.805).grid is None  # stale on purpose: no check within the interval
    invalidate()
    assert locate(113.525, 23.805).grid == world["east"]


def test_locate_rebuilds_only_when_the_signature_changes(world, monkeypatch):
    locate(113.505, 23.805)
    builds = []
    original = locate_module._build_grid_index
    monkeypatch.setattr(locate_module, "_build_grid_index", lambda layer: builds.append(1) or original(layer))
    locate(113.505, 23.805)
    assert builds == []
    make_grid(world["village"], "Z", square(113.6, 23.8))
    locate(113.505, 23.805)
    assert builds == [1]


def test_locate_many_returns_grid_ids_and_minus_one(world):
    ids = locate_many([113.505, 113.515, 113.6], [23.805, 23.805, 23.75])
    assert ids.tolist() == [world["west"].pk, world["east"].pk, -1]
    assert ids.dtype.kind == "i"


def test_locate_many_names_the_first_bad_point_or_skips_it(world):
    with pytest.raises(GeoError, match=r"point 1: lon=23.805 lat=113.505 looks swapped"):
        locate_many([113.505, 23.805], [23.805, 113.505])
    assert locate_many([113.505, np.nan, 2.0], [23.805, 23.8, 48.0], strict=False).tolist() == [
        world["west"].pk,
        -1,
        -1,
    ]


def test_locate_ignores_boundaries_of_other_versions(world):
    old = make_area("441821102000", "高岗镇", world["county"])
    make_boundary(old, box(113.0, 23.0, 113.1, 23.1), valid_to="2020-01-01T00:00:00Z")
    assert locate(113.05, 23.05).area == world["county"]


# --- the API --------------------------------------------------------------------------------------------


@pytest.fixture
def api(world, django_user_model):
    user = django_user_model.objects.create_user("gridder", password="not-used-here-123")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.urls(__name__)
def test_api_locate_returns_grid_area_and_chain(api, world):
    response = api.get("/api/v1/locate", {"lon": "113.505", "lat": "23.805"})
    assert response.status_code == 200
    body = response.json()
    assert body["grid"] == {"id": world["west"].pk, "code": "W", "name": "grid W", "layer": "comprehensive"}
    assert body["area"] == {"code": "441821101201", "name": "汤塘村委会", "level": 5}
    assert body["chain"][0]["code"] == "440000000000" and body["method"] == "grid"


@pytest.mark.urls(__name__)
def test_api_locate_falls_back_to_an_area(api, world):
    body = api.get("/api/v1/locate", {"lon": 113.6, "lat": 23.75, "layer": "comprehensive"}).json()
    assert body["grid"] is None and body["area"]["code"] == "441821101000" and body["method"] == "area-boundary"


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lon": 23.805, "lat": 113.505}, "looks swapped"),
        ({"lon": 113.5}, "lon and lat are required"),
        ({"lon": "abc", "lat": 23}, "must be numbers"),
        ({"lon": 113.5, "lat": 23.8, "layer": "nope"}, "existing layers"),
    ],
)
def test_api_locate_answers_400_with_a_detail_for_bad_input(api, params, message):
    response = api.get("/api/v1/locate", params)
    assert response.status_code == 400 and message in response.json()["detail"]


@pytest.mark.urls(__name__)
def test_api_locate_needs_authentication(world):
    response = APIClient().get("/api/v1/locate", {"lon": 113.505, "lat": 23.805})
    assert response.status_code == 401 and response.has_header("WWW-Authenticate")


@pytest.mark.urls(__name__)
def test_api_locate_accepts_a_token(world, django_user_model):
    from fengqiao.security.services import tokens

    user = django_user_model.objects.create_user("t", password="not-used-here-123")
    _token, key = tokens.issue(actor="test", user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/locate", {"lon": 113.505, "lat": 23.805}).status_code == 200


def test_api_locate_schema_documents_the_query_parameters():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(patterns=urlpatterns).get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/locate"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["lon"]["required"] and params["lat"]["required"] and not params["layer"].get("required")
    assert set(operation["responses"]) >= {"200", "400"}
