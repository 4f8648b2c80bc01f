"""Bus lines routed on the generated main roads, with ordered stops placed on the lines.

Lines are shortest paths (travel time) over the main road classes, which exist at every scale,
so a line is the same at scale 0.02 and 1.0. Stops sit on the line every 400-800 m and at each
named place; a stop already on the line within the share radius is reused, so lines that run
along the same street share their stops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from backend.county.frame import STREAM_BUS, Frame, rng
from backend.county.graph import Router, path_coords
from backend.county.recipe import Recipe
from backend.county.roads import Roads
from backend.county.townships import Townships, Villages


@dataclass
class Transit:
    line_geoms: np.ndarray
    line_code: list[str]
    line_name: list[str]
    line_color: list[str]
    line_length: list[float]
    stop_geoms: np.ndarray
    stop_code: list[str]
    stop_name: list[str]
    line_stops: list[tuple[str, int, str, float]]  # line code, seq, stop code, distance_m


def resolve_places(recipe: Recipe, frame: Frame, tw: Townships, roads: Roads
                   ) -> dict[str, np.ndarray]:
    """Local points of the named places and of the township seats."""
    places = {s: tw.seats[i] for i, s in enumerate(tw.shorts)}
    for p in recipe.places:
        if p.offset_km is not None:
            places[p.name] = frame.offset(*p.offset_km)
            continue
        rows = np.flatnonzero(roads.name == p.road)
        c = shapely.get_coordinates(roads.geoms[rows])
        axis = 0 if np.ptp(c[:, 0]) >= np.ptp(c[:, 1]) else 1  # the direction the road runs
        lo, hi = c[:, axis].min(), c[:, axis].max()
        pt = c[np.argmin(np.abs(c[:, axis] - (lo + p.fraction * (hi - lo))))].copy()  # type: ignore[operator]
        pt[axis] = lo + p.fraction * (hi - lo)  # type: ignore[operator]
        places[p.name] = pt
    return places


def _stop_name(p: np.ndarray, own: str | None, roads: Roads, named: np.ndarray,
               tree: shapely.STRtree, vil: Villages, vtree: cKDTree) -> str:
    """The nearest cross street within 120 m (人民路口), else the nearest village (黄圩村)."""
    near = tree.query(shapely.Point(p), predicate="dwithin", distance=120.0)
    best, best_d = None, np.inf
    for k in near:
        nm = roads.main_name[named[k]]
        if nm != own:
            d = shapely.distance(roads.main_lines[named[k]], shapely.Point(p))
            if d < best_d:
                best, best_d = nm, d
    if best is not None:
        return best + ("口" if best.endswith(("路", "大道", "街", "巷")) else "路口")
    _, v = vtree.query(p)
    return vil.names[int(v)]


class _Stops:
    """All stops so far; places a line's stops, reusing stops that already lie on it."""

    def __init__(self, recipe: Recipe, roads: Roads, vil: Villages) -> None:
        self.recipe, self.roads, self.vil = recipe, roads, vil
        self.named = np.flatnonzero(np.array([isinstance(n, str) for n in roads.main_name]))
        self.tree = shapely.STRtree(roads.main_lines[self.named])
        self.vtree = cKDTree(vil.points)
        self.xy: list[np.ndarray] = []
        self.names: list[str] = []

    def place(self, line: shapely.LineString, steps: list[tuple[int, bool]],
              marks: list[float], via: list[str], g: np.random.Generator
              ) -> list[tuple[int, float]]:
        on_line = [(s, float(shapely.line_locate_point(line, shapely.Point(xy))))
                   for s, xy in enumerate(self.xy)
                   if shapely.distance(line, shapely.Point(xy)) < 0.5]
        seq: list[tuple[int, float]] = []

        def put(d: float, place: str | None, lo: float, hi: float) -> float:
            near = [(abs(dd - d), s, dd) for s, dd in on_line if lo < dd < hi]
            if near:
                _, s, dd = min(near)
                seq.append((s, dd))
                return dd
            p = shapely.get_coordinates(shapely.line_interpolate_point(line, d))[0]
            own = self.roads.main_name[self.roads.main_graph.row[_edge_at(self.roads, steps, d)]]
            self.xy.append(p)
            self.names.append(place or _stop_name(p, own, self.roads, self.named, self.tree,
                                                  self.vil, self.vtree))
            seq.append((len(self.xy) - 1, d))
            return d

        bc = self.recipe.bus
        gap_lo, gap_hi, r = bc.stop_spacing_m.lo, bc.stop_spacing_m.hi, bc.share_radius_m
        cur = put(0.0, via[0], -1.0, r)
        for k, end in enumerate(marks[1:], start=1):
            while True:
                target = cur + g.uniform(gap_lo, gap_hi)
                if target > end - 0.5 * gap_lo:
                    break
                cur = put(target, None, cur + 0.6 * gap_lo, min(cur + gap_hi, end - 0.5 * gap_lo))
            if end > cur + 1.0:
                cur = put(end, via[k], max(cur, end - r), end + r)
        return seq


def build_transit(recipe: Recipe, roads: Roads, places: dict[str, np.ndarray],
                  vil: Villages) -> Transit:
    graph = roads.main_graph
    cls = roads.main_cls[graph.row]
    speed = np.array([recipe.road_classes[c].speed for c in cls], dtype=float)
    router = Router(graph, np.ones(len(cls), dtype=bool), graph.length / speed)
    stops = _Stops(recipe, roads, vil)
    out = Transit(np.empty(0), [], [], [], [], np.empty(0), [], [], [])
    lines = []
    for li, spec in enumerate(recipe.bus.lines):
        nodes = [router.nearest_node(places[v]) for v in spec.via]
        steps: list[tuple[int, bool]] = []
        marks = [0.0]
        for p, q in zip(nodes[:-1], nodes[1:], strict=True):
            leg = router.path(p, q)
            steps += leg
            marks.append(marks[-1] + float(sum(graph.length[e] for e, _ in leg)))
        line = shapely.linestrings(path_coords(roads.main_lines, graph, steps))
        length = float(shapely.length(line))
        marks[-1] = length
        seq = stops.place(line, steps, marks, spec.via, rng(recipe.seed, STREAM_BUS, li))
        out.line_code.append(spec.code)
        out.line_name.append(spec.name)
        out.line_color.append(spec.color)
        out.line_length.append(round(length, 1))
        lines.append(line)
        out.line_stops += [(spec.code, k + 1, f"SX-S{s + 1:04d}", round(dd, 1))
                           for k, (s, dd) in enumerate(seq)]
    out.line_geoms = np.array(lines, dtype=object)
    out.stop_geoms = shapely.points(np.array(stops.xy)) if stops.xy else np.empty(0, object)
    out.stop_code = [f"SX-S{s + 1:04d}" for s in range(len(stops.xy))]
    out.stop_name = stops.names
    return out


def _edge_at(roads: Roads, steps: list[tuple[int, bool]], d: float) -> int:
    """Index (into graph edges) of the path edge at distance d along the path."""
    total = 0.0
    for e, _ in steps:
        total += float(roads.main_graph.length[e])
        if total >= d - 1e-6:
            return e
    return steps[-1][0] if steps else 0
