"""Address resolution against a small tree (ADR 0018): names in their full, short and other-suffix forms, typos,
missing levels, extra words, mixed order, namesakes told apart by their ancestors, `within`, and the spans and
methods reported."""

import pytest

from fengqiao.areas import addresses
from fengqiao.areas.addresses import address_key, fold, resolve
from fengqiao.areas.tests.address_builders import address_tree
from fengqiao.areas.tests.factories import make_area

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    return address_tree()


def test_a_full_address_resolves_to_the_village_with_every_level_and_its_span(tree):
    text = "佛冈县汤塘镇汤塘村委会附近"
    result = resolve(text)
    assert result.area_id == tree["tangtang_village"].pk and result.level == 5
    assert result.method == "exact" and result.exact and not result.ambiguous
    levels = result.by_level()
    assert {level: m.text for level, m in levels.items()} == {3: "佛冈县", 4: "汤塘镇", 5: "汤塘村委会"}
    assert (levels[5].start, levels[5].end) == (6, 11) and text[6:11] == "汤塘村委会"
    assert levels[4].area_id == tree["tangtang"].pk and levels[4].method == "exact"
    assert result.explain() == "佛冈县 (exact) → 汤塘镇 (exact) → 汤塘村委会 (exact)"


def test_a_town_with_a_road_and_number_stops_at_the_town(tree):
    result = resolve("汤塘镇XX路12号")
    assert result.area_id == tree["tangtang"].pk and result.level == 4 and result.method == "exact"
    assert [m.text for m in result.matches] == ["汤塘镇"]


def test_short_names_and_other_suffixes_of_the_same_kind(tree):
    short = resolve("汤塘")
    assert short.area_id == tree["tangtang"].pk and short.method == "short"  # the town, not its namesake village
    for text in ("汤塘镇汤塘村", "汤塘镇汤塘村民委员会", "汤塘镇汤塘村委"):
        assert resolve(text).area_id == tree["tangtang_village"].pk, text
    for text in ("汤塘镇汤塘社区", "汤塘镇汤塘居委会", "汤塘社区居民委员会"):
        assert resolve(text).area_id == tree["tangtang_community"].pk, text


def test_a_road_named_like_a_village_is_not_the_village(tree):
    assert resolve("汤塘镇人民路12号").area_id == tree["tangtang"].pk
    assert resolve("汤塘镇人民村").area_id == tree["renmin"].pk


def test_missing_levels_extra_words_and_mixed_order(tree):
    guanshan = tree["guanshan"].pk
    for text in ("佛冈县观山村委会对面", "观山村委会，佛冈县石角镇", "我在清远 石角镇 观山 路口", "反映石角观山村附近"):
        result = resolve(text)
        assert result.area_id == guanshan and not result.ambiguous, (text, result.explain())


def test_namesakes_are_told_apart_by_the_ancestors_named_in_the_text(tree):
    assert resolve("石角镇新村村委会").area_id == tree["xincun_shijiao"].pk
    assert resolve("汤塘新村").area_id == tree["xincun_tangtang"].pk
    assert resolve("清城区石角镇").area_id == tree["other_shijiao"].pk
    assert resolve("佛冈县石角").area_id == tree["shijiao"].pk


def test_namesakes_nothing_tells_apart_give_their_common_area_flagged_ambiguous(tree):
    result = resolve("新村村委会门口")
    assert result.ambiguous and not result.exact
    assert result.area_id == tree["fogang"].pk and result.level == 3
    assert set(result.candidates) == {tree["xincun_tangtang"].pk, tree["xincun_shijiao"].pk}
    towns = resolve("石角镇")
    assert towns.ambiguous and towns.area_id == tree["city"].pk


def test_within_limits_the_answer_to_a_subtree(tree):
    result = resolve("新村村委会", within=tree["shijiao"])
    assert result.area_id == tree["xincun_shijiao"].pk and not result.ambiguous
    assert resolve("石角镇", within=tree["qingcheng"]).area_id == tree["other_shijiao"].pk
    assert not resolve("汤塘镇", within=tree["qingcheng"]).found
    assert resolve("新村村委会", within=tree["tangtang"].path).area_id == tree["xincun_tangtang"].pk


def test_one_wrong_character_in_a_name_of_three_or_more(tree):
    county = resolve("佛岗县汤塘镇")
    assert county.area_id == tree["tangtang"].pk
    assert county.by_level()[3].method == "fuzzy" and county.by_level()[3].text == "佛岗县"
    assert not county.exact  # a forgiven typo is worth a second look
    village = resolve("石角镇观由村委会")  # 观山, two characters and a suffix, under the named town
    assert village.area_id == tree["guanshan"].pk and village.method == "fuzzy"
    assert not resolve("观由").found  # two characters without a suffix: no typo is forgiven


def test_names_that_repeat_their_ancestors_names(tree):
    assert resolve("石角镇龙南村").area_id == tree["longnan"].pk
    assert resolve("佛冈县石角镇龙南村民委员会").area_id == tree["longnan"].pk


def test_spans_point_into_the_original_text_across_dropped_spaces_full_width_and_traditional_forms(tree):
    text = "佛冈县 汤塘鎮，汤塘村委会"
    result = resolve(text)
    assert result.area_id == tree["tangtang_village"].pk
    assert [text[m.start : m.end] for m in result.matches] == ["佛冈县", "汤塘鎮", "汤塘村委会"]
    assert fold("Ａ１号 ") == ("a1号", [0, 1, 2])


def test_nothing_known_is_not_found():
    for text in ("", "北京市朝阳区", "12345"):
        result = resolve(text)
        assert not result.found and result.method == "none" and result.explain().startswith("no division")


def test_the_scoped_resolver_keeps_the_importers_interface(tree):
    scoped = addresses.for_area(tree["fogang"])
    area_id, exact = scoped.find("汤塘镇汤塘村委会")
    assert area_id == tree["tangtang_village"].pk and exact
    assert scoped.levels[area_id] == 5
    assert scoped.find("新村村委会") == (tree["fogang"].pk, False)
    assert scoped.find("黄花村") == (None, False)  # outside the county


def test_the_cached_index_follows_changes_to_the_tree(tree, settings):
    settings.LOCATE_REFRESH_SECONDS = 0
    assert not resolve("石角镇白石村").by_level().get(5)
    village = make_area("441821103204", "白石村委会", tree["shijiao"])
    assert resolve("石角镇白石村").area_id == village.pk


def test_address_key_normalises_numbers_and_trailing_words():
    assert address_key("人民路１２號 附近") == address_key("人民路12号") == "人民路12"
    assert address_key("人民路12号楼3室对面") == "人民路12楼3室"


def test_a_road_junction_is_keyed_at_its_road_and_a_name_ending_in_kou_is_kept():
    from fengqiao.areas.addresses import address_key

    assert address_key("人民路口") == address_key("人民路") == "人民路"
    assert address_key("人民路口附近") == "人民路"
    assert address_key("新港口") == "新港口"
