import io

import pytest
import yaml
from django.core.management import call_command

from fengqiao.api.tests.helpers import reader


def test_the_openapi_schema_generates_without_warnings_and_validates(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target), stderr=io.StringIO())
    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    for path in (
        "/api/v1/areas/{code}/boundary/",
        "/api/v1/grids/geojson/",
        "/api/v1/departments/responsible/",
        "/api/v1/stationings/{id}/end/",
        "/api/v1/auth/token/",
    ):
        assert path in paths
    grid_list = paths["/api/v1/grids/"]["get"]["responses"]["200"]["content"]
    assert set(grid_list) == {"application/json", "application/geo+json"}
    reception = schema["components"]["schemas"]["ReceptionCreateRequest"]["properties"]
    assert {"visitor_name", "visitor_phone"} <= set(reception)
    # several models have a `kind`: each choice set has its own enum, named in ENUM_NAME_OVERRIDES
    components = schema["components"]["schemas"]
    for component, enum in [("Place", "PlaceKindEnum"), ("OrganisationCreateRequest", "OrganisationKindEnum")]:
        assert components[component]["properties"]["kind"]["allOf"] == [{"$ref": f"#/components/schemas/{enum}"}]
    assert components["PlaceKindEnum"]["enum"][0] == "shop"


@pytest.mark.django_db
def test_schema_and_swagger_pages_are_served():
    client = reader()
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
