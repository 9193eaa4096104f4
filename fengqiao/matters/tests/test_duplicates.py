"""Duplicate suggestions (ADR 0019): the text score, the place and time rules and their settings, matters without
a point, closed and merged candidates, the expression index, the API (scoped, validated, in the schema) and a
merge through the engine after a suggestion."""

import datetime
import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import F
from django.utils import timezone

from fengqiao.accounts.scope import Scope
from fengqiao.api.tests.helpers import client_for
from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_category
from fengqiao.matters import duplicates, services
from fengqiao.matters.duplicates import Text, normalise, rules_for, suggest, suggest_for
from fengqiao.matters.engine import perform
from fengqiao.matters.models import Matter, MatterEvent, PlaceCell, place_cell
from fengqiao.matters.tests.builders import GRID_POINT, matter_world

NOW = timezone.now()
LON, LAT = GRID_POINT
EAST_100M = 0.001  # degrees of longitude ≈ 102 m at 23.7°N
URL = "/api/v1/matters/"


@pytest.fixture
def w(db):
    return matter_world()


def make(title, *, east=0.0, days=0.0, description="", point=True, area=None, category=None, address=""):
    matter, _created = services.submit(
        actor="test",
        channel="12345",
        title=title,
        description=description,
        lon=LON + east if point else None,
        lat=LAT if point else None,
        area=area,
        category=category,
        address=address,
        submitted_at=NOW - datetime.timedelta(days=days),
    )
    return Matter.objects.select_related("area", "category").get(pk=matter.pk)


def codes(suggestions):
    return [s.tracking_code for s in suggestions]


# --- the text --------------------------------------------------------------------------------------------


def test_normalising_folds_width_and_case_and_drops_spaces_and_punctuation():
    assert normalise("Ａ市　汤塘村，路灯 不亮！！(3号)") == "a市汤塘村路灯不亮3号"
    assert normalise("") == normalise(None) == ""


def test_identical_texts_score_one_near_duplicates_high_and_other_matters_low():
    lamp = Text("汤塘村路灯不亮")
    assert lamp.similarity(Text("汤塘村：路灯不亮！")) == pytest.approx(1.0)
    assert lamp.similarity(Text("汤塘村口路灯坏了不亮")) > 0.5
    assert lamp.similarity(Text("汤塘村垃圾堆积无人清运")) < 0.35
    assert Text("").similarity(lamp) == 0.0


def test_words_every_complaint_uses_weigh_less(monkeypatch):
    noise, parking = Text("关于小区噪音扰民问题的投诉"), Text("关于小区停车收费问题的投诉")
    generic = noise.similarity(parking)
    monkeypatch.setattr(duplicates, "GENERIC_WEIGHT", 1.0)
    noise, parking = Text("关于小区噪音扰民问题的投诉"), Text("关于小区停车收费问题的投诉")
    assert noise.similarity(parking) > generic + 0.1
    assert generic < 0.45  # below the default threshold: only 关于…问题的投诉 and 小区 in common
    assert Text("题的").title_weight == pytest.approx(duplicates.GENERIC_WEIGHT)  # a function character's bigram


def test_descriptions_are_compared_when_both_have_one_and_a_title_is_looked_for_in_the_other():
    detail = "村口第三根电线杆上的路灯已经坏了一个星期，晚上行人看不清路，请尽快维修。"
    assert Text("路灯坏了", detail).similarity(Text("晚上看不清路", detail)) > 0.9  # other titles, same detail
    assert Text("电线杆上的路灯已经坏了").similarity(Text("夜间照明", detail)) == pytest.approx(0.8)  # in the text
    # … but a title of a few characters is in any text: it makes nothing a duplicate
    assert Text("您好").similarity(Text("夜间照明", "您好，" + detail)) < 0.3


def test_shared_words_are_the_common_phrases_without_the_generic_ones():
    a, b = Text("反映汤塘村口路灯不亮的问题"), Text("汤塘村口的路灯一直不亮")
    assert a.shared(b) == ["汤塘村口", "路灯", "不亮"]


# --- place, time and their settings ---------------------------------------------------------------------


def test_a_near_recent_similar_matter_is_suggested_with_a_score_and_a_reason(w):
    first = make("汤塘村口路灯不亮", days=2)
    make("汤塘村垃圾堆积无人清运", days=1)  # here, recent, but about something else
    second = make("汤塘村口的路灯坏了不亮", east=EAST_100M)
    [found] = suggest(second)
    assert found.matter_id == first.pk and found.tracking_code == first.tracking_code
    assert 95 < found.distance_m < 110 and found.hours_apart == pytest.approx(48, abs=0.1)
    assert 0.45 <= found.score <= found.text_score <= 1
    assert {"汤塘村口", "路灯"} <= set(found.shared) and found.mergeable and found.via is None
    assert str(round(found.distance_m)) in found.reason and "汤塘村口" in found.reason
    assert found.state == "submitted" and found.state_label
    # symmetric on demand: the older one finds the newer one
    assert codes(suggest(first)) == [second.tracking_code]


def test_too_far_too_old_or_too_different_is_not_suggested(w):
    make("汤塘村口路灯不亮", east=0.006)  # ~610 m
    make("汤塘村口路灯不亮", days=31)
    make("汤塘村垃圾堆积无人清运")
    assert suggest(make("汤塘村口路灯不亮")) == []


def test_the_radius_window_and_threshold_are_settings(w, settings):
    far = make("汤塘村口路灯不亮", east=0.006)
    old = make("汤塘村口路灯不亮", days=31)
    matter = make("汤塘村口路灯不亮")
    settings.FENGQIAO_DUPLICATE_RADIUS_M = 1000
    assert codes(suggest(matter)) == [far.tracking_code]
    settings.FENGQIAO_DUPLICATE_WINDOW_DAYS = 45
    assert set(codes(suggest(matter))) == {far.tracking_code, old.tracking_code}
    ranked = suggest(matter)
    # the same place 31 of 45 days before (time 0.86) beats the same moment 610 of 1,000 m away (place 0.82)
    assert codes(ranked) == [old.tracking_code, far.tracking_code] and ranked[0].score > ranked[1].score
    assert codes(suggest(matter, limit=1)) == [old.tracking_code]
    settings.FENGQIAO_DUPLICATE_MIN_SCORE = 0.99
    assert suggest(matter) == []


def test_a_category_overrides_the_radius_and_window_for_itself_and_what_lies_below_it(w, settings):
    lamps = make_category("M-lamp", "路灯")
    street = make_category("M-lamp-street", "街道路灯", parent=lamps)
    near = make("汤塘村口路灯不亮", east=EAST_100M, category=street)
    make("汤塘村口路灯不亮", east=0.004, days=10, category=street)  # ~410 m, 10 days
    settings.FENGQIAO_DUPLICATE_CATEGORIES = {"M-lamp": {"radius_m": 200, "window_days": 5}}
    assert rules_for(street) == rules_for(lamps) != rules_for(None)
    assert rules_for(street).radius_m == 200 and rules_for(street).window_days == 5
    assert codes(suggest(make("汤塘村口路灯不亮", category=street))) == [near.tracking_code]
    assert len(suggest(make("汤塘村口路灯不亮", days=0.5))) == 3  # no category: the defaults (500 m, 30 days)


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("FENGQIAO_DUPLICATE_RADIUS_M", -1, "FENGQIAO_DUPLICATE_RADIUS_M"),
        ("FENGQIAO_DUPLICATE_RADIUS_M", "far", "FENGQIAO_DUPLICATE_RADIUS_M"),
        ("FENGQIAO_DUPLICATE_WINDOW_DAYS", 400, "FENGQIAO_DUPLICATE_WINDOW_DAYS"),
        ("FENGQIAO_DUPLICATE_MIN_SCORE", 1.5, "FENGQIAO_DUPLICATE_MIN_SCORE"),
        ("FENGQIAO_DUPLICATE_CATEGORIES", {"M-road": {"radius": 100}}, "FENGQIAO_DUPLICATE_CATEGORIES['M-road']"),
        ("FENGQIAO_DUPLICATE_CATEGORIES", {"M-road": {"radius_m": 0}}, "FENGQIAO_DUPLICATE_CATEGORIES['M-road']"),
        ("FENGQIAO_DUPLICATE_CATEGORIES", ["M-road"], "FENGQIAO_DUPLICATE_CATEGORIES"),
    ],
)
def test_a_bad_setting_is_named(w, settings, name, value, named):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=named.replace("[", r"\[")):
        rules_for(w["category"])


def test_limit_and_area_are_checked(w):
    with pytest.raises(ValueError, match="limit"):
        suggest_for("路灯不亮", "", LON, LAT, w["chain"]["village"], NOW, limit=0)
    with pytest.raises(ValueError, match="area"):
        suggest_for("路灯不亮", "", LON, LAT, None, NOW)


# --- without a point -------------------------------------------------------------------------------------


def test_matters_without_a_point_are_compared_by_area(w):
    village, town = w["chain"]["village"], w["chain"]["town"]
    same = make("汤塘村口路灯不亮", point=False, area=village, days=1)
    make("汤塘村口路灯不亮", point=False, area=w["other_village"], days=1)  # another village
    make("汤塘村口路灯不亮", point=False, area=w["chain"]["county"], days=1)  # the county: too coarse
    on_town = make("汤塘村口路灯不亮", point=False, area=town, days=1)
    unplaced = make("汤塘村口路灯一直不亮", point=False, area=village)
    [found] = suggest(unplaced)
    assert found.matter_id == same.pk and found.distance_m is None and village.name in found.reason
    # A matter with a point also meets those without one in its area and the areas above it, up to the town.
    pointed = make("汤塘村口路灯一直不亮")
    assert pointed.area == village
    assert set(codes(suggest(pointed))) == {same.tracking_code, on_town.tracking_code, unplaced.tracking_code}


def test_the_same_address_raises_the_place_factor(w):
    village = w["chain"]["village"]
    there = make("汤塘村口路灯不亮", point=False, area=village, address="汤塘镇汤塘村人民路12号")
    elsewhere = make("汤塘村口路灯不亮", point=False, area=village, address="汤塘镇汤塘村新街5号")
    matter = make("汤塘村口路灯不亮", point=False, area=village, address="汤塘镇汤塘村人民路12号附近")
    ranked = suggest(matter)
    assert codes(ranked) == [there.tracking_code, elsewhere.tracking_code]
    assert ranked[0].score > ranked[1].score


# --- states, merged matters, scope ----------------------------------------------------------------------


def test_a_closed_matter_is_suggested_for_reference_only(w):
    closed = make("汤塘村口路灯不亮", days=3)
    Matter.objects.filter(pk=closed.pk).update(state="closed")
    [found] = suggest(make("汤塘村口路灯不亮"))
    assert found.matter_id == closed.pk and not found.mergeable and found.state_label in found.reason


def test_a_merged_matter_stands_for_the_one_it_was_merged_into(w):
    parent = make("汤塘村路灯坏了", days=3)  # worded differently
    child = make("汤塘村口第三根电线杆路灯不亮", days=2, east=EAST_100M)
    perform(child, "merge", actor=w["centre"], payload={"parent": parent.tracking_code})
    assert suggest(Matter.objects.get(pk=child.pk)) == []  # a duplicate already
    matter = make("汤塘村口第三根电线杆路灯不亮")
    found = {s.matter_id: s for s in suggest(matter)}
    assert child.pk not in found and found[parent.pk].via == child.tracking_code
    assert child.tracking_code in found[parent.pk].reason
    # what is merged into a matter is never suggested for it
    assert child.pk not in {s.matter_id for s in suggest(Matter.objects.get(pk=parent.pk))}


def test_only_matters_in_the_scope_are_suggested(w):
    inside = make("汤塘村口路灯不亮", days=1)
    across = make("汤塘村口路灯不亮", days=1, east=EAST_100M)
    Matter.objects.filter(pk=across.pk).update(area=w["other_village"])  # just across the town's border
    matter = make("汤塘村口路灯不亮")
    town = Scope(paths=[w["chain"]["town"].path])
    assert codes(suggest(matter, scope=town)) == [inside.tracking_code]
    assert set(codes(suggest(matter, scope=Scope(unrestricted=True)))) == {inside.tracking_code, across.tracking_code}
    assert suggest(matter, scope=Scope.nothing()) == []


# --- the index -------------------------------------------------------------------------------------------


def test_the_database_computes_the_cell_as_python_does_and_the_query_reads_the_index(w):
    points = [(113.505, 23.705), (113.5, 23.7), (113.504999, 23.699999), (73.5, 53.5), (135.0, 3.9)]
    matters = [make("路灯", east=lon - LON) for lon, _lat in points]
    for matter, (_lon, lat) in zip(matters, points, strict=True):
        Matter.objects.filter(pk=matter.pk).update(lat=lat)
    cells = dict(Matter.objects.annotate(cell=PlaceCell(F("lon"), F("lat"))).values_list("pk", "cell"))
    for matter in Matter.objects.filter(pk__in=[m.pk for m in matters]):
        assert cells[matter.pk] == place_cell(matter.lon, matter.lat), (matter.lon, matter.lat)
    assert place_cell(113.505, 23.705) == int(113.705 * 200) * 100_000 + int(293.505 * 200)
    if connection.vendor == "sqlite":
        near = Matter.objects.alias(cell=PlaceCell(F("lon"), F("lat"))).filter(
            cell__in=[1, 2], lon__isnull=False, lat__isnull=False, submitted_at__gte=NOW, lon__gte=0, lat__gte=0
        )
        sql, params = near.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(row[-1] for row in cursor.fetchall())
        assert "INDEX matter_place (<expr>=? AND submitted_at>?" in plan, plan


def test_a_matter_written_by_a_raw_insert_is_found_through_the_index(w):
    """The importer writes with INSERT statements of its own: the database keeps the index, no code does."""
    model = make("汤塘村口路灯不亮", days=1)
    columns = [f for f in Matter._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(getattr(model, f.attname), connection) for f in columns]
    values[[f.name for f in columns].index("tracking_code")] = "FQRAWINSERT1"
    values[[f.name for f in columns].index("lon")] = LON + EAST_100M
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Matter._meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})",
            values,
        )
    assert set(codes(suggest(make("汤塘村口路灯不亮")))) == {model.tracking_code, "FQRAWINSERT1"}


# --- the API ---------------------------------------------------------------------------------------------


def test_the_api_suggests_among_the_callers_matters_only(w):
    inside = make("汤塘村口路灯不亮", days=1)
    across = make("汤塘村口路灯不亮", days=1, east=EAST_100M)
    Matter.objects.filter(pk=across.pk).update(area=w["other_village"])
    matter = make("汤塘村口路灯一直不亮")
    town = client_for(w["centre"]).get(f"{URL}{matter.pk}/duplicates/")
    assert town.status_code == 200, town.content
    assert [row["tracking_code"] for row in town.data] == [inside.tracking_code]
    row = town.data[0]
    assert set(row) >= {"id", "score", "text_score", "distance_m", "hours_apart", "shared", "mergeable", "reason"}
    county = client_for(w["county_staff"]).get(f"{URL}{matter.pk}/duplicates/", {"limit": 1})
    assert len(county.data) == 1
    county = client_for(w["county_staff"]).get(f"{URL}{matter.pk}/duplicates/")
    assert {row["tracking_code"] for row in county.data} == {inside.tracking_code, across.tracking_code}
    assert client_for(w["other_centre"]).get(f"{URL}{matter.pk}/duplicates/").status_code == 404
    assert client_for(w["citizen"]).get(f"{URL}{matter.pk}/duplicates/").status_code == 403  # no view_matter


@pytest.mark.parametrize("limit", ["0", "21", "abc", "-1", "2.5"])
def test_the_api_names_a_bad_limit(w, limit):
    matter = make("汤塘村口路灯不亮")
    response = client_for(w["centre"]).get(f"{URL}{matter.pk}/duplicates/", {"limit": limit})
    assert response.status_code == 400 and "limit" in response.data


def test_staff_merge_a_suggested_duplicate_through_the_engine(w):
    first = make("汤塘村口路灯不亮", days=1)
    second = make("汤塘村口的路灯坏了不亮", east=EAST_100M)
    client = client_for(w["centre"])
    [suggestion] = client.get(f"{URL}{second.pk}/duplicates/").data
    assert suggestion["mergeable"]
    audit_before = AuditEvent.objects.count()
    response = client.post(
        f"{URL}{second.pk}/transition/",
        {"action": "merge", "parent": suggestion["tracking_code"], "reason": suggestion["reason"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.data["state"] == "merged" and response.data["parent"] == first.tracking_code
    assert MatterEvent.objects.filter(matter=first, action="merged_in").exists()
    assert AuditEvent.objects.count() > audit_before
    assert client.get(f"{URL}{second.pk}/duplicates/").data == []  # merged: a duplicate already
    third = make("汤塘村口路灯坏了")
    assert [row["tracking_code"] for row in client.get(f"{URL}{third.pk}/duplicates/").data] == [first.tracking_code]


def test_the_duplicates_route_is_in_the_openapi_schema(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/matters/{id}/duplicates/"]["get"]
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["limit"]
    properties = schema["components"]["schemas"]["Duplicate"]["properties"]
    assert {"score", "distance_m", "reason", "mergeable", "via"} <= set(properties)


# --- the bench -------------------------------------------------------------------------------------------

COMPLAINTS = Path(django_settings.SHARED_DATA_DIR) / "complaints"
HAVE_DATA = (COMPLAINTS / "teddy2020c_fj3_messages_votes.csv").is_file()


@pytest.mark.slow
@pytest.mark.skipif(
    not HAVE_DATA and not os.environ.get("FENGQIAO_REQUIRE_SHARED_DATA"),  # CI has the data: it must run there
    reason="shared data not present",
)
def test_the_bench_measures_precision_recall_and_speed(db):
    from fengqiao.matters.bench_duplicates import read_messages, run

    records, groups = read_messages(COMPLAINTS, limit=100)  # 100 duplicate groups, 100 messages without
    assert len(set(groups)) == 200 and len(records) > 300
    lines = []
    figures = run(rows=2000, top=3, calls=30, seed=2, folder=COMPLAINTS, out=lines.append, scratch=False, limit=100)
    assert Matter.objects.count() == 2000
    assert 0 < figures["precision"] <= 1 and 0 < figures["recall"] <= 1 and figures["p99"] > 0
    assert lines[-1].startswith("duplicates: precision ") and f"(top 3) on {len(records)} matters" in lines[-1]
    assert lines[-1].endswith(" ms at 2000 rows")
    assert any("USING INDEX matter_place" in line for line in lines) or connection.vendor != "sqlite"
