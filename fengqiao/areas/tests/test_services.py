import pytest
from django.core.exceptions import ValidationError

from fengqiao.areas.codes import CodeError
from fengqiao.areas.models import AreaChange
from fengqiao.areas.services import create_area, update_area
from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent


@pytest.mark.django_db
def test_a_villager_group_is_created_under_its_village_with_history_and_audit():
    chain = make_chain()
    group = create_area(actor="test", code=chain["village"].code + "001", name="第一村民小组", parent=chain["village"])
    assert group.path == chain["village"].path + group.code + "/"
    assert group.short_name == "第一"
    assert AreaChange.objects.filter(area=group, kind="created").exists()
    assert AuditEvent.objects.filter(action="area.create", object_id=str(group.pk)).exists()
    with pytest.raises(CodeError):
        create_area(actor="test", code=chain["village"].code + "002", name="x", parent=chain["town"])


@pytest.mark.django_db
def test_renaming_an_area_recomputes_its_short_name_and_records_the_change():
    town = make_chain()["town"]
    update_area(actor="test", area=town, name="新名镇")
    town.refresh_from_db()
    assert (town.name, town.short_name) == ("新名镇", "新名")
    change = AreaChange.objects.get(area=town, kind="changed")
    assert change.before["name"] == "汤塘镇" and change.after == {"name": "新名镇", "short_name": "新名"}
    assert AuditEvent.objects.filter(action="area.update").count() == 1
    update_area(actor="test", area=town, name="新名镇")  # no change: nothing recorded
    assert AuditEvent.objects.filter(action="area.update").count() == 1


@pytest.mark.django_db
def test_an_unknown_urban_rural_code_is_refused_and_nothing_changes():
    village = make_chain()["village"]
    with pytest.raises(ValidationError, match="urban-rural"):
        update_area(actor="test", area=village, urban_rural_code="999")
    village.refresh_from_db()
    assert village.urban_rural_code == "220"
    assert not AreaChange.objects.filter(area=village).exists()
