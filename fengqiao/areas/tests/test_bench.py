import re

import pytest
from django.core.management import CommandError, call_command

LAST_LINE = re.compile(r"^locate: (\d+) points/s \(ratio (\d+\.\d+) to raw STRtree on the same data\)$")


def test_bench_locate_agrees_with_the_raw_tree_and_ends_with_the_rate_line(capsys):
    call_command("bench", "locate", "--grids", "2000", "--points", "20000", "--seed", "3")
    lines = capsys.readouterr().out.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    assert int(match.group(1)) > 0 and float(match.group(2)) > 0
    assert any(line.startswith("build: ") for line in lines)
    assert any(line.startswith("raster: ") and "MiB" in line for line in lines)
    assert any(line.startswith("agreement: 20000/20000") for line in lines)


def test_synthetic_grids_are_irregular_and_tile_without_overlap():
    import shapely

    from fengqiao.areas.management.commands.bench import synthetic_grids

    grids, land = synthetic_grids(500, seed=2)
    assert len(grids) == 500
    assert shapely.get_num_coordinates(grids).mean() > 6  # not squares
    assert abs(shapely.area(grids).sum() - land.area) < 1e-9 * land.area + 1e-12
    assert shapely.union_all(grids).area == pytest.approx(land.area, rel=1e-9)


def test_bench_needs_a_known_subcommand():
    with pytest.raises(CommandError):
        call_command("bench", "nothing")
