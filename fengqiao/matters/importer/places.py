"""Where imported rows belong: the grid (vectorised `locate_many`), else the deepest boundary, else a town or
village named in the address text, else the top area flagged for triage. See `fengqiao.matters.importer`."""

import numpy as np
import shapely

from fengqiao.areas.models import Area, Grid, GridLayer
from fengqiao.matters import services


class AddressIndex:
    """Names of the towns and villages (and counties) below the top area, matched in address text (a trie).

    The best area is the one most names in the text agree with (itself and its ancestors), then the deepest; a
    name shared by several areas that nothing else tells apart gives their common ancestor."""

    def __init__(self, top):
        self.trie = {}
        self.paths = {}
        self.levels = {}
        rows = Area.objects.current().filter(path__startswith=top.path, level__gte=3, level__lte=5)
        for pk, name, short, level, path in rows.values_list("pk", "name", "short_name", "level", "path"):
            self.paths[pk], self.levels[pk] = path, level
            for word in {name, short}:
                if len(word) >= 2:
                    self._add(word, pk)
        self.by_path = {path: pk for pk, path in self.paths.items()}

    def _add(self, word, pk):
        node = self.trie
        for char in word:
            node = node.setdefault(char, {})
        node.setdefault(None, set()).add(pk)

    def find(self, text):
        """(area id, exact) or (None, False)."""
        found = set()
        for start in range(len(text)):
            node = self.trie
            for char in text[start:]:
                node = node.get(char)
                if node is None:
                    break
                if None in node:
                    found |= node[None]
        if not found:
            return None, False
        if len(found) == 1:
            (pk,) = found
            return pk, True
        paths = {self.paths[pk] for pk in found}
        scores = {pk: (sum(1 for p in paths if self.paths[pk].startswith(p)), self.levels[pk]) for pk in found}
        best = max(scores.values())
        winners = [pk for pk, score in scores.items() if score == best]
        if len(winners) == 1:
            return winners[0], True
        common = _common_path([self.paths[pk] for pk in winners])
        return self.by_path.get(common), False


def _common_path(paths):
    parts = [p.strip("/").split("/") for p in paths]
    shared = []
    for codes in zip(*parts, strict=False):
        if len(set(codes)) != 1:
            break
        shared.append(codes[0])
    return "/".join(shared) + "/" if shared else ""


class Places:
    """Locates a batch of rows: grid (vectorised), else deepest boundary, else address text, else the top area."""

    def __init__(self):
        from fengqiao.areas.grids import get_layer

        self.top = services.top_area()
        self.layer = get_layer(GridLayer.COMPREHENSIVE)
        self.grid_area = dict(Grid.objects.current().filter(layer=self.layer).values_list("pk", "area_id"))
        self.addresses = AddressIndex(self.top)
        self.handling = {}

    def handling_area_id(self, area_id):
        if area_id not in self.handling:
            self.handling[area_id] = services.handling_area_for(Area.objects.get(pk=area_id)).pk
        return self.handling[area_id]

    def locate(self, rows):
        """Sets area_id, grid_id, method, needs_triage and handling_area_id on each row."""
        from fengqiao.areas.locate import boundary_index, locate_many

        with_point = [r for r in rows if r.lon is not None]
        if with_point:
            lons = np.array([r.lon for r in with_point])
            lats = np.array([r.lat for r in with_point])
            grid_ids = locate_many(lons, lats, self.layer, strict=False)
            missed = []
            for row, grid_id in zip(with_point, grid_ids.tolist(), strict=True):
                area_id = self.grid_area.get(grid_id) if grid_id >= 0 else None
                if area_id is not None:
                    row.grid_id, row.area_id, row.method = grid_id, area_id, "grid"
                else:
                    missed.append(row)
            if missed:
                self._boundaries(boundary_index(), missed)
        for row in rows:
            if row.area_id is None and row.address:
                area_id, exact = self.addresses.find(row.address)
                if area_id is not None:
                    row.area_id, row.method = area_id, "address"
                    row.needs_triage = not exact or self.addresses.levels[area_id] < 4
                    if row.lon is not None:  # the point lies outside every area: the address alone is a guess
                        row.needs_triage = True
                        row.warnings.append("the point is outside every area: placed by the address text, for triage")
            if row.area_id is None:
                row.area_id, row.method, row.needs_triage = self.top.pk, "none", True
                if row.lon is not None:
                    why = "the point is outside every area"
                elif row.address:
                    why = "the address names no known town or village"
                else:
                    why = "no location given"
                row.warnings.append(f"{why}: imported for triage at the top level")
            row.handling_area_id = self.handling_area_id(row.area_id)

    def _boundaries(self, index, rows):
        points = shapely.points([r.lon for r in rows], [r.lat for r in rows])
        which, hit = index.tree.query(points, predicate="intersects")
        best = {}
        for i, j in zip(which.tolist(), hit.tolist(), strict=True):
            key = (-index.levels[j], index.sizes[j], index.area_ids[j])
            if i not in best or key < best[i]:
                best[i] = key
        for i, row in enumerate(rows):
            if i in best:
                row.area_id, row.method, row.needs_triage = int(best[i][2]), "area-boundary", True
