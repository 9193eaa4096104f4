"""Reference data seeded by the data migrations (areas 0002, centres 0002, departments 0002)."""

import pytest

from fengqiao.areas.models import GridLayer
from fengqiao.areas.seed import seed_grid_layers
from fengqiao.centres.models import SpaceType
from fengqiao.centres.seed import seed_space_types
from fengqiao.departments.models import Category
from fengqiao.departments.seed import seed_categories

pytestmark = pytest.mark.django_db


def test_three_grid_layers_and_only_the_river_layer_may_leave_gaps():
    layers = {layer.code: layer for layer in GridLayer.objects.all()}
    assert layers["comprehensive"].name == "综合网格" and layers["comprehensive"].full_coverage
    assert layers["forest-chief"].name == "林长网格" and layers["forest-chief"].full_coverage
    assert layers["river-chief"].name == "河长网格" and not layers["river-chief"].full_coverage
    assert GridLayer.COMPREHENSIVE == "comprehensive"


def test_one_hall_five_rooms():
    types = list(SpaceType.objects.order_by("order"))
    assert [t.name for t in types] == [
        "群众接待厅",
        "矛盾纠纷调处室",
        "网格化管理室",
        "心理咨询室",
        "监控研判室",
        "社会工作室",
    ]
    assert [t.is_hall for t in types] == [True, False, False, False, False, False]
    assert all(t.code.isascii() for t in types)


def test_12345_first_level_categories_include_the_teddy_cup_labels():
    hotline = Category.objects.filter(scheme=Category.Scheme.HOTLINE)
    names = set(hotline.values_list("name", flat=True))
    assert {"城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生"} <= names
    assert not hotline.filter(parent__isnull=False).exists()
    assert all(c.path == f"{c.code}/" for c in hotline)


@pytest.mark.parametrize(
    ("code", "name", "path"),
    [
        ("D01", "婚恋家庭", "D01/"),
        ("D0402", "物业", "D04/D0402/"),
        ("D0503", "交通事故", "D05/D0503/"),
        ("D0903", "山林矿产", "D09/D0903/"),
        ("D1103", "规划及拆违", "D11/D1103/"),
        ("D16", "涉民族宗教", "D16/"),
        ("D99", "其他", "D99/"),
    ],
)
def test_gbt31000_dispute_types_keep_the_standard_codes(code, name, path):
    category = Category.objects.get(code=code)
    assert (category.name, category.path, category.scheme) == (name, path, Category.Scheme.DISPUTE)


def test_gbt31000_has_17_first_level_and_10_second_level_types():
    disputes = Category.objects.filter(scheme=Category.Scheme.DISPUTE)
    assert disputes.filter(parent__isnull=True).count() == 17
    assert disputes.filter(parent__isnull=False).count() == 10
    assert all(c.path == f"{c.parent.path}{c.code}/" for c in disputes.filter(parent__isnull=False))


def test_seeding_again_creates_nothing_and_keeps_edits():
    layer = GridLayer.objects.get(code="river-chief")
    layer.name = "河湖长网格"
    layer.save()
    assert seed_grid_layers(GridLayer) == 0
    assert seed_space_types(SpaceType) == 0
    assert seed_categories(Category) == 0
    assert GridLayer.objects.get(code="river-chief").name == "河湖长网格"


def test_seeding_restores_a_deleted_row():
    SpaceType.objects.filter(code="social-work").delete()
    assert seed_space_types(SpaceType) == 1
    assert SpaceType.objects.filter(code="social-work", name="社会工作室").exists()
