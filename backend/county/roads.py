"""Roads: the seat's street grid, town streets, rural roads on the lattice, national and
provincial roads through township seats, county roads (a spanning tree over the seats), and the
real OSM expressway bridges. Everything except the expressways is noded into one network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely

from backend.county.expressways import expressway_rows
from backend.county.frame import STREAM_ROADS, Frame, chaikin, line_parts, rng, segments, wiggle
from backend.county.graph import Graph, build_graph
from backend.county.lattice import CITY, FARM, NONE, TOWN, VILLAGE, Lattice
from backend.county.recipe import Recipe
from backend.county.townships import Townships

MAIN_CLASSES = ("trunk", "primary", "secondary", "tertiary")  # present at every scale


@dataclass
class Lines:
    """Road lines with their attributes, appended in batches."""

    geoms: list[np.ndarray] = field(default_factory=list)
    cls: list[np.ndarray] = field(default_factory=list)
    name: list[np.ndarray] = field(default_factory=list)
    kind: list[np.ndarray] = field(default_factory=list)  # street / lattice / trunk / county

    def add(self, geoms: np.ndarray, cls: object, name: object, kind: str) -> None:
        n = len(geoms)
        self.geoms.append(np.asarray(geoms, dtype=object))
        self.cls.append(np.broadcast_to(np.asarray(cls, dtype=object), (n,)).copy())
        self.name.append(np.broadcast_to(np.asarray(name, dtype=object), (n,)).copy())
        self.kind.append(np.full(n, kind, dtype=object))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.concatenate(x) if x else np.empty(0, dtype=object)  # type: ignore[return-value]
                     for x in (self.geoms, self.cls, self.name, self.kind))


@dataclass
class Roads:
    geoms: np.ndarray  # final rows (local LineStrings)
    cls: np.ndarray
    name: np.ndarray
    keys: np.ndarray  # source_key
    graph: Graph  # over the non-motorway rows
    main_lines: np.ndarray  # the main roads noded among themselves (bus routing)
    main_name: np.ndarray
    main_cls: np.ndarray
    main_graph: Graph
    sources: Lines  # un-noded source lines (pipelines follow these)
    corridors: np.ndarray  # polygons where parcels must not be (trunks, county roads, motorways)
    city_lines: dict[str, tuple[int, int]]  # arterial name -> (axis, array line index)


def _street_names(recipe: Recipe, lat: Lattice) -> tuple[dict[tuple[int, int], str],
                                                         dict[tuple[int, int, int], str]]:
    """Names of the city's lattice lines (recipe, then pool) and internal streets (pool)."""
    city = lat.kind == CITY
    cols = sorted({int(a) for a in np.nonzero(city)[0]} | {int(a) + 1 for a in np.nonzero(city)[0]})
    rows = sorted({int(b) for b in np.nonzero(city)[1]} | {int(b) + 1 for b in np.nonzero(city)[1]})
    pool = list(recipe.urban.name_pool)
    order = rng(recipe.seed, STREAM_ROADS, 1).permutation(len(pool))
    names = iter([pool[i] for i in order] * 4)
    used = set(recipe.urban.ew_names.values()) | set(recipe.urban.ns_names.values())
    lattice: dict[tuple[int, int], str] = {}
    for axis, lines, table in ((0, cols, recipe.urban.ns_names), (1, rows, recipe.urban.ew_names)):
        for a in lines:
            named = table.get(lat.lattice_index(axis, a))
            if named is None:
                named = next(n + "路" for n in names if n + "路" not in used)
                used.add(named)
            lattice[(axis, a)] = named
    internal: dict[tuple[int, int, int], str] = {}
    k = recipe.urban.streets_per_cell
    for axis, lines in ((0, cols[:-1]), (1, rows[:-1])):
        for a in lines:
            for m in range(k):
                suffix = "路" if m == k // 2 else ("街" if axis == 0 else "巷")
                internal[(axis, a, m)] = next(n + suffix for n in names if n + suffix not in used)
                used.add(internal[(axis, a, m)])
    return lattice, internal


def _lattice_streets(recipe: Recipe, lat: Lattice, out: Lines) -> None:
    us, vs, kind, det = lat.us, lat.vs, lat.kind, lat.detailed
    lattice_names, internal_names = _street_names(recipe, lat)
    primary = set(recipe.urban.primary)
    nu, nv = len(us), len(vs)
    for axis in (0, 1):
        if axis == 0:  # N-S edges: line a, between rows b and b + 1
            a, b = np.meshgrid(np.arange(nu), np.arange(nv - 1), indexing="ij")
            one = (np.clip(a - 1, 0, nu - 2), b)
            two = (np.clip(a, 0, nu - 2), b)
            ok1, ok2 = a > 0, a < nu - 1
            geoms = segments(us[a], vs[b], us[a], vs[b + 1])
            line = a
        else:  # E-W edges: line b, between columns a and a + 1
            a, b = np.meshgrid(np.arange(nu - 1), np.arange(nv), indexing="ij")
            one = (a, np.clip(b - 1, 0, nv - 2))
            two = (a, np.clip(b, 0, nv - 2))
            ok1, ok2 = b > 0, b < nv - 1
            geoms = segments(us[a], vs[b], us[a + 1], vs[b])
            line = b
        k1 = np.where(ok1, kind[one], NONE)
        k2 = np.where(ok2, kind[two], NONE)
        d = (ok1 & det[one]) | (ok2 & det[two])
        city = (k1 == CITY) | (k2 == CITY)
        town = ~city & ((k1 == TOWN) | (k2 == TOWN))
        farm = np.isin(k1, (FARM, VILLAGE)) | np.isin(k2, (FARM, VILLAGE))
        rural = ~city & ~town & farm & d
        for idx in zip(*np.nonzero(city), strict=True):
            name = lattice_names[(axis, int(line[idx]))]
            cls = "primary" if name in primary else "secondary"
            out.add(np.array([geoms[idx]], dtype=object), cls, name, "street")
        out.add(geoms[town], "tertiary", None, "street")
        out.add(geoms[rural], "rural", None, "lattice")

    # Streets inside city and town cells, continuous along a lattice column / row.
    k_city, k_town = recipe.urban.streets_per_cell, recipe.town.streets_per_cell
    for a, b in zip(*np.nonzero((kind == CITY) | (kind == TOWN)), strict=True):
        a, b = int(a), int(b)
        is_city = kind[a, b] == CITY
        if not is_city and not det[a, b]:
            continue
        k = k_city if is_city else k_town
        jit = recipe.urban.street_jitter
        for axis in (0, 1):
            pos = lat.internal(axis, a if axis == 0 else b, k, jit)
            for m, p in enumerate(pos):
                middle = is_city and k % 2 == 1 and m == k // 2
                if not middle and not det[a, b]:
                    continue
                if axis == 0:
                    g = segments(np.array([p]), vs[b : b + 1], np.array([p]), vs[b + 1 : b + 2])
                else:
                    g = segments(us[a : a + 1], np.array([p]), us[a + 1 : a + 2], np.array([p]))
                name = internal_names.get((axis, a if axis == 0 else b, m)) if is_city else None
                out.add(g, "tertiary" if middle else "residential", name, "street")


def halfwidth_fn(recipe: Recipe, lat: Lattice) -> Callable[[int, int, int], float]:
    """Half the width of a lattice edge, from the cells on either side (as _lattice_streets)."""
    names = _street_names(recipe, lat)[0]
    primary = set(recipe.urban.primary)
    widths = {c: r.width_m / 2 for c, r in recipe.road_classes.items()}
    nu, nv = len(lat.us), len(lat.vs)

    def hw(axis: int, line: int, across: int) -> float:
        if axis == 0:
            sides = [lat.kind[line - 1, across] if line > 0 else NONE,
                     lat.kind[line, across] if line < nu - 1 else NONE]
        else:
            sides = [lat.kind[across, line - 1] if line > 0 else NONE,
                     lat.kind[across, line] if line < nv - 1 else NONE]
        if CITY in sides:
            return widths["primary" if names[(axis, line)] in primary else "secondary"]
        return widths["tertiary" if TOWN in sides else "rural"]

    return hw


def perimeter_nodes(lat: Lattice) -> np.ndarray:
    """Lattice nodes on the edge of the seat's built-up area (where trunks enter the city)."""
    city = np.pad(lat.kind == CITY, 1)
    around = city[:-1, :-1].astype(int) + city[1:, :-1] + city[:-1, 1:] + city[1:, 1:]
    a, b = np.nonzero((around > 0) & (around < 4))
    return np.column_stack([lat.us[a], lat.vs[b]])


def _polyline(points: list[np.ndarray], amp: float, g: np.random.Generator) -> np.ndarray:
    """A smooth road through its waypoints (each leg smoothed alone, so waypoints stay exact)."""
    legs = []
    for k, (p, q) in enumerate(zip(points[:-1], points[1:], strict=True)):
        leg = chaikin(wiggle(p, q, 2500.0, amp, g), 3)
        legs.append(leg if k == 0 else leg[1:])
    return np.vstack(legs)


def _trunks_and_county_roads(recipe: Recipe, frame: Frame, tw: Townships, lat: Lattice,
                             out: Lines) -> None:
    g = rng(recipe.seed, STREAM_ROADS, 2)
    perim = perimeter_nodes(lat)
    sa, sb = lat.locate(tw.seats)
    in_city = np.array([a >= 0 and lat.kind[a, b] == CITY for a, b in zip(sa, sb, strict=True)])
    short = {s: i for i, s in enumerate(tw.shorts)}

    def entry(towards: np.ndarray) -> np.ndarray:
        return perim[np.argmin(np.hypot(perim[:, 0] - towards[0], perim[:, 1] - towards[1]))]

    # Components of township seats already joined by trunks ("city" is node -1).
    parent = {t: t for t in [-1, *range(len(tw.shorts))]}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def node_of(t: int) -> int:
        return -1 if in_city[t] else t

    joined: set[tuple[int, int]] = set()
    # A town whose streets touch the city's is joined to it already (no county road needed).
    city = np.pad(lat.kind == CITY, 1)
    touch = city[:-2, 1:-1] | city[2:, 1:-1] | city[1:-1, :-2] | city[1:-1, 2:]
    for t in np.unique(lat.town_of[(lat.town_of >= 0) & touch]):
        parent[find(int(t))] = find(-1)
        joined.add((-1, int(t)))
    for trunk in recipe.trunk_roads:
        stops: list[np.ndarray | None] = []
        nodes: list[int] = []
        for v in trunk.via:
            if v == "city":
                stops.append(None)
                nodes.append(-1)
            elif v.startswith("edge:"):
                stops.append(frame.bearing_vector(float(v[5:])) * 60000.0)
            else:
                stops.append(tw.seats[short[v]])
                nodes.append(node_of(short[v]))
        for p, q in zip(nodes[:-1], nodes[1:], strict=True):
            parent[find(p)] = find(q)
            joined.add((min(p, q), max(p, q)))
        pieces: list[list[np.ndarray]] = [[]]
        for k, s in enumerate(stops):
            if s is None:
                if pieces[-1]:
                    pieces[-1].append(entry(pieces[-1][-1]))
                nxt = stops[k + 1] if k + 1 < len(stops) else None
                pieces.append([entry(nxt)] if nxt is not None else [])
            else:
                pieces[-1].append(s)
        for pts in pieces:
            if len(pts) >= 2:
                line = shapely.linestrings(_polyline(pts, 400.0, g))
                out.add(np.array([line]), trunk.road_class, trunk.name, "trunk")

    # County roads: a spanning tree joining what trunks left apart, plus a few short extras.
    towns = [-1] + [t for t in range(len(tw.shorts)) if not in_city[t]]
    pos = {t: (np.zeros(2) if t == -1 else tw.seats[t]) for t in towns}
    pairs = sorted((float(np.hypot(*(pos[p] - pos[q]))), p, q)
                   for i, p in enumerate(towns) for q in towns[i + 1 :])
    chosen: list[tuple[int, int]] = []
    for _, p, q in pairs:
        if find(p) != find(q):
            parent[find(p)] = find(q)
            chosen.append((p, q))
    chosen += _shortcuts(pairs, joined | set(chosen), recipe.county_roads.extra)
    for n, (p, q) in enumerate(chosen, start=1):
        a = entry(pos[q]) if p == -1 else pos[p]
        b = entry(pos[p]) if q == -1 else pos[q]
        line = shapely.linestrings(_polyline([a, b], recipe.county_roads.wiggle_m, g))
        out.add(np.array([line]), recipe.county_roads.road_class, f"县道X{n:03d}", "county")


def _shortcuts(pairs: list[tuple[float, int, int]], links: set[tuple[int, int]], n: int
               ) -> list[tuple[int, int]]:
    """The n links (under 16 km) that shorten the worst detours of the seat-to-seat network."""
    ids = sorted({p for _, p, _ in pairs} | {q for _, _, q in pairs})
    at = {t: i for i, t in enumerate(ids)}
    straight = np.zeros((len(ids), len(ids)))
    for d, p, q in pairs:
        straight[at[p], at[q]] = straight[at[q], at[p]] = d
    dist = np.full_like(straight, np.inf)
    np.fill_diagonal(dist, 0.0)
    for p, q in links:
        dist[at[p], at[q]] = dist[at[q], at[p]] = straight[at[p], at[q]]
    out: list[tuple[int, int]] = []
    for _ in range(n):
        for k in range(len(ids)):  # Floyd-Warshall on a dozen nodes
            dist = np.minimum(dist, dist[:, k : k + 1] + dist[k : k + 1, :])
        best = max(((dist[at[p], at[q]] / d, p, q) for d, p, q in pairs
                    if d < 16000 and (p, q) not in links and (p, q) not in out), default=None)
        if best is None or best[0] <= 1.3:
            break
        _, p, q = best
        out.append((p, q))
        dist[at[p], at[q]] = dist[at[q], at[p]] = straight[at[p], at[q]]
    return out


def _clip(geoms: np.ndarray, county: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Lines inside the county: (pieces, index of the source line)."""
    shapely.prepare(county)
    inside = shapely.contains(county, geoms)
    out = geoms.copy()
    out[~inside] = shapely.intersection(geoms[~inside], county)
    return line_parts(out)


def _noded(recipe: Recipe, geoms: np.ndarray, cls: np.ndarray, county: shapely.Geometry
           ) -> tuple[np.ndarray, np.ndarray]:
    """Node lines (exact in the local frame), clip them to the county, and find each piece's
    source line: (pieces, source index)."""
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(geoms)))
    noded = noded[shapely.length(noded) > 0.01]
    mids = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    hit_mid, hit_src = shapely.STRtree(geoms).query_nearest(mids, all_matches=True)
    rank = np.array([recipe.road_classes[c].rank for c in cls])
    order = np.lexsort((hit_src, -rank[hit_src], hit_mid))  # the most important source wins
    hit_mid, hit_src = hit_mid[order], hit_src[order]
    first = np.ones(len(hit_mid), dtype=bool)
    first[1:] = hit_mid[1:] != hit_mid[:-1]
    owner = np.empty(len(noded), dtype=int)
    owner[hit_mid[first]] = hit_src[first]
    pieces, idx = _clip(noded, county)
    keep = shapely.length(pieces) > 1.0
    return pieces[keep], owner[idx[keep]]


def build_roads(recipe: Recipe, frame: Frame, county: shapely.Geometry, tw: Townships,
                lat: Lattice) -> Roads:
    src = Lines()
    _lattice_streets(recipe, lat, src)
    _trunks_and_county_roads(recipe, frame, tw, lat, src)
    geoms, cls, name, kind = src.arrays()

    pieces, owner = _noded(recipe, geoms, cls, county)
    # Bus lines route on the main roads noded among themselves only, so that their course does
    # not depend on which local streets the scale left in.
    main = np.flatnonzero(np.isin(cls, MAIN_CLASSES))
    main_pieces, main_owner = _noded(recipe, geoms[main], cls[main], county)
    main_owner = main[main_owner]

    mw = expressway_rows(recipe, frame, county)
    n = len(pieces)
    all_geoms = np.concatenate([pieces, mw.geoms])
    all_cls = np.concatenate([cls[owner], np.full(len(mw.geoms), "motorway", dtype=object)])
    all_name = np.concatenate([name[owner], mw.names])
    keys = np.array([f"{kind[o]}-{i:06d}" for i, o in enumerate(owner)] + list(mw.keys),
                    dtype=object)
    graph = build_graph(pieces, np.arange(n))

    # Parcels keep clear of trunks, county roads and motorways (lattice streets are block edges).
    wide = np.isin(kind[owner], ("trunk", "county"))
    half = np.array([recipe.road_classes[c].width_m / 2 + 2.0 for c in cls[owner][wide]])
    corridors = np.concatenate([shapely.buffer(pieces[wide], half), mw.corridors])
    city_lines = {}
    for (axis, a), nm in _street_names(recipe, lat)[0].items():
        city_lines[nm] = (axis, a)
    return Roads(geoms=all_geoms, cls=all_cls, name=all_name, keys=keys, graph=graph,
                 main_lines=main_pieces, main_name=name[main_owner], main_cls=cls[main_owner],
                 main_graph=build_graph(main_pieces, np.arange(len(main_pieces))),
                 sources=src, corridors=corridors, city_lines=city_lines)
