"""Video cameras at road junctions (天网, 雪亮, traffic), dressed as real installations: pole
heights by place, lenses and ranges, PTZ domes with a preset per junction arm, the GB/T 28181
catalog fields, and the devices that register (each IPC itself, 雪亮 cameras through their
community's NVR). Places, ids, headings and fields of view come from the first random stream as
before; everything added here draws from a second one, so they do not move."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from backend.county.frame import STREAM_CAMERAS, Frame, rng
from backend.county.lattice import Lattice
from backend.county.recipe import Lens, Recipe
from backend.county.roads import Roads
from backend.county.townships import Townships, Villages
from backend.county.utilities import CONTEXTS, junction_context

INDUSTRY = {"tianwang": "00", "xueliang": "01", "traffic": "04"}  # GB/T 28181 行业编码
KIND_LABEL = {"tianwang": "天网", "xueliang": "雪亮", "traffic": "交通"}
IPC_TYPE, NVR_TYPE = "132", "118"  # GB/T 28181 device type codes
# GB/T 28181-2016 catalog codes: UseType 1 治安 2 交通 3 重点; PTZType 1 球机 3 固定枪机;
# PositionType 6 商业中心 10 交通干线; RoomType 1 室外.
USE_TYPE = {"tianwang": 1, "xueliang": 1, "traffic": 2}
USE_KEY = 3
PTZ_DOME, PTZ_BULLET = 1, 3
POSITION_COMMERCIAL, POSITION_ARTERY = 6, 10
ROOM_OUTDOOR = 1
COMPASS = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")
AIM_SHARE = 0.45  # a camera is tilted to aim at this share of its range
PRESET_COLUMNS = ["camera_code", "preset_no", "name", "heading_deg", "fov_deg", "range_m",
                  "tilt_deg"]
DEVICE_COLUMNS = ["code", "name", "keepalive_s"]


@dataclass
class Cameras:
    geoms: np.ndarray
    code: np.ndarray
    columns: dict[str, np.ndarray]  # the cameras table's other columns
    presets: pd.DataFrame  # PRESET_COLUMNS, domes only
    devices: pd.DataFrame  # DEVICE_COLUMNS: the IPCs and NVRs that register over SIP


def lens_range(fov_deg: np.ndarray, width_m: np.ndarray, lens: Lens) -> np.ndarray:
    """Metres a lens of this field of view sees a scene `width_m` wide at, clipped."""
    r = width_m / (2.0 * np.tan(np.radians(fov_deg) / 2.0))
    return np.round(np.clip(r, lens.range_m.lo, lens.range_m.hi), 0)


def aim_tilt(height_m: np.ndarray, range_m: np.ndarray) -> np.ndarray:
    """Degrees below the horizon (negative) to aim at AIM_SHARE of the range."""
    return np.round(-np.degrees(np.arctan2(height_m, AIM_SHARE * range_m)), 1)


def compass(bearing: float) -> str:
    return COMPASS[int(((bearing % 360.0) + 22.5) // 45.0) % 8]


def _empty() -> Cameras:
    return Cameras(np.empty(0, dtype=object), np.empty(0, dtype=object), {},
                   pd.DataFrame(columns=PRESET_COLUMNS), pd.DataFrame(columns=DEVICE_COLUMNS))


def build_cameras(recipe: Recipe, frame: Frame, lat: Lattice, roads: Roads, tw: Townships,
                  vil: Villages, scale: float) -> Cameras:
    cc = recipe.cameras
    g = rng(recipe.seed, STREAM_CAMERAS)
    graph = roads.graph
    deg = graph.degree
    ctx, det = junction_context(lat, graph.xy)
    nodes = np.flatnonzero((deg >= 3) & det)
    weight = np.array([cc.weights[CONTEXTS[c]] for c in ctx[nodes]]) * (deg[nodes] - 1.5)
    slots = np.repeat(nodes, 4)
    sw = np.repeat(weight, 4) * np.tile([1.0, 0.6, 0.35, 0.2], len(nodes))
    n = min(int(round(cc.count * min(scale, 1.0))), len(slots))
    if n == 0:
        return _empty()
    chosen = np.sort(g.choice(len(slots), size=n, replace=False, p=sw / sw.sum()))
    at = slots[chosen]
    # Names: the two most important named roads meeting at the junction; arms: where each
    # incident road leads (other end, rank, name), for main crossings and dome presets.
    wanted = set(at.tolist())
    names: dict[int, list[str]] = {}
    arms: dict[int, list[tuple[int, int, str | None]]] = {}
    rank = {c: r.rank for c, r in recipe.road_classes.items()}
    for e in range(len(graph.a)):
        nm = roads.name[graph.row[e]]
        ends = (int(graph.a[e]), int(graph.b[e]))
        if isinstance(nm, str):
            for v in ends:
                if nm not in names.setdefault(v, []):
                    names[v].append(nm)
        for v, w in (ends, ends[::-1]):
            if v in wanted:
                arms.setdefault(v, []).append((w, rank[roads.cls[graph.row[e]]],
                                               nm if isinstance(nm, str) else None))
    _, near_village = cKDTree(vil.points).query(graph.xy[at])
    kinds, statuses = list(cc.status), np.array(list(cc.status.values()))
    status = np.array(kinds, dtype=object)[g.choice(len(kinds), n, p=statuses / statuses.sum())]
    ang = g.uniform(0, 2 * np.pi, n)
    dist = g.uniform(6.0, 14.0, n)
    pos = graph.xy[at] + np.column_stack([np.cos(ang), np.sin(ang)]) * dist[:, None]
    look = frame.bearing_of(-np.cos(ang), -np.sin(ang))  # towards the junction
    # rounded, then wrapped: 359.96 must become 0.0, not 360.0 (CHECK direction_deg < 360)
    direction = np.round((look + g.normal(0, 15, n)) % 360.0, 1) % 360.0
    kind = np.empty(n, dtype=object)
    fov = np.empty(n)
    code = np.empty(n, dtype=object)
    name = np.empty(n, dtype=object)
    where = np.empty(n, dtype=object)
    for k in range(n):
        mix = cc.kinds[CONTEXTS[ctx[at[k]]]]  # type: ignore[index]
        keys = list(mix)
        p = np.array([mix[x] for x in keys])
        kind[k] = keys[int(g.choice(len(keys), p=p / p.sum()))]
        span = cc.fov_deg[kind[k]]
        fov[k] = round(float(g.uniform(span.lo, span.hi)), 1)
        code[k] = f"{recipe.county.code}00{INDUSTRY[kind[k]]}{IPC_TYPE}{k + 1:07d}"
        road = names.get(int(at[k]), [])
        where[k] = (f"{road[0]}与{road[1]}交叉口" if len(road) > 1 else
                    f"{road[0]}{vil.names[near_village[k]]}路口" if road else
                    f"{vil.names[near_village[k]]}路口")
        name[k] = f"{where[k]}（{KIND_LABEL[kind[k]]}）"
    pts = shapely.points(pos)
    town = np.full(n, -1)
    for t, poly in enumerate(tw.polys):
        town[shapely.contains(poly, pts)] = t
    url = np.array([cc.stream_url.format(code=c) for c in code], dtype=object)

    main = np.array([sum(r >= cc.main_rank for _, r, _ in arms.get(int(v), [])) >= 3
                     for v in at])
    g2 = rng(recipe.seed, STREAM_CAMERAS, 1)  # what is added here: apart from places and ids
    cols = installation(recipe, g2, kind, fov, main, ctx[at], np.hypot(pos[:, 0], pos[:, 1]))
    presets = _presets(recipe, g2, frame, graph.xy, code, pos, at, arms, cols)
    cols.update(
        code=code, name=name, kind=kind, direction_deg=direction, fov_deg=fov, status=status,
        stream_url=url, township_code=np.array([tw.codes[t] if t >= 0 else None for t in town],
                                               dtype=object),
        civil_code=np.array([tw.codes[t] if t >= 0 else None for t in town], dtype=object),
        owner=np.array([cc.owners.get(kd, tw.names[t] if t >= 0 else None)  # type: ignore[call-overload]
                        for kd, t in zip(kind, town, strict=True)], dtype=object),
        address=np.array([f"{recipe.county.name}{tw.names[t]}{w}" if t >= 0 else None
                          for w, t in zip(where, town, strict=True)], dtype=object))
    ok = town >= 0  # drop any outside the county
    kept = {c: v[ok] for c, v in cols.items()}
    kept["parent_code"], nvrs = _nvrs(recipe, kept, near_village[ok], vil)
    own = np.array([p is None for p in kept["parent_code"]], dtype=bool)  # IPCs register
    devices = pd.concat([pd.DataFrame({"code": kept["code"][own], "name": kept["name"][own]}),
                         nvrs], ignore_index=True)
    devices["keepalive_s"] = cc.keepalive_s
    presets = presets[presets["camera_code"].isin(set(kept["code"]))].reset_index(drop=True)
    return Cameras(geoms=pts[ok], code=code[ok], columns=kept, presets=presets,
                   devices=devices[DEVICE_COLUMNS])


def installation(recipe: Recipe, g: np.random.Generator, kind: np.ndarray, fov: np.ndarray,
                  main: np.ndarray, ctx: np.ndarray, from_seat: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """Pole height, PTZ type, lens range, tilt, make and the catalog's use and position."""
    cc = recipe.cameras
    n = len(kind)
    spans = [cc.height_m["main_crossing" if m else CONTEXTS[c]]  # type: ignore[index]
             for m, c in zip(main, ctx, strict=True)]
    height = np.round(g.uniform([s.lo for s in spans], [s.hi for s in spans]), 1)
    dome = (kind == "tianwang") & (g.random(n) < np.where(
        main, cc.domes.share["main_crossing"], cc.domes.share["other"]))
    width = g.random(n)
    lenses = [cc.domes.lens if d else cc.lens[kd]  # type: ignore[index]
              for d, kd in zip(dome, kind, strict=True)]
    range_m = np.array([lens_range(np.array(f), np.array(s.width_m.lo + w * (s.width_m.hi -
                                                                            s.width_m.lo)), s)
                        for f, w, s in zip(fov, width, lenses, strict=True)], dtype=float)
    pick = g.random(n)
    makes = [cc.models["dome" if d else "bullet"] for d in dome]
    device = [m[int(p * len(m))] for p, m in zip(pick, makes, strict=True)]
    centre = (kind == "tianwang") & (from_seat <= cc.centre_km * 1e3)
    artery = (kind == "traffic") | main
    position = np.where(centre, POSITION_COMMERCIAL, np.where(artery, POSITION_ARTERY, 0))
    return {
        "height_m": height, "range_m": range_m, "tilt_deg": aim_tilt(height, range_m),
        "ptz_type": np.where(dome, PTZ_DOME, PTZ_BULLET),
        "manufacturer": np.array([d.manufacturer for d in device], dtype=object),
        "model": np.array([d.model for d in device], dtype=object),
        "use_type": np.where(centre, USE_KEY, [USE_TYPE[k] for k in kind]),
        "position_type": np.array([int(p) if p else None for p in position], dtype=object),
        "room_type": np.full(n, ROOM_OUTDOOR),
    }


def _presets(recipe: Recipe, g: np.random.Generator, frame: Frame, node_xy: np.ndarray,
             code: np.ndarray, pos: np.ndarray, at: np.ndarray,
             arms: dict[int, list[tuple[int, int, str | None]]], cols: dict[str, np.ndarray]
             ) -> pd.DataFrame:
    """A dome's presets: one per junction arm, most important roads first, up to a drawn
    number; each looks from the camera down its arm with its own zoom (field, range)."""
    d = recipe.cameras.domes
    rows: list[tuple[object, ...]] = []
    for k in np.flatnonzero(cols["ptz_type"] == PTZ_DOME):
        legs = sorted(arms.get(int(at[k]), []), key=lambda a: (-a[1], a[0]))
        count = min(len(legs), int(g.integers(d.presets[0], d.presets[1] + 1)))
        for no, (other, _, road) in enumerate(legs[:count], start=1):
            target = node_xy[other] - pos[k]
            heading = float(frame.bearing_of(np.array([target[0]]), np.array([target[1]]))[0])
            heading = round((heading + float(g.normal(0, 3))) % 360.0, 1) % 360.0
            f = round(float(g.uniform(d.fov_deg.lo, d.fov_deg.hi)), 1)
            w = d.lens.width_m.lo + g.random() * (d.lens.width_m.hi - d.lens.width_m.lo)
            r = float(lens_range(np.array(f), np.array(w), d.lens))
            rows.append((code[k], no, f"{road or '路口'}{compass(heading)}向", heading, f, r,
                         float(aim_tilt(np.array(cols["height_m"][k]), np.array(r)))))
    return pd.DataFrame(rows, columns=PRESET_COLUMNS)


def _nvrs(recipe: Recipe, cols: dict[str, np.ndarray], village: np.ndarray, vil: Villages
          ) -> tuple[np.ndarray, pd.DataFrame]:
    """雪亮 cameras register through their community's NVR (type 118), up to nvr_channels
    each: the cameras' parent_code (None: registers itself), and the NVRs (code, name)."""
    cc = recipe.cameras
    parent = np.full(len(village), None, dtype=object)
    rows: list[tuple[str, str]] = []
    xl = np.flatnonzero(cols["kind"] == "xueliang")
    for v in np.unique(village[xl]):
        members = xl[village[xl] == v]
        chunks = range(0, len(members), cc.nvr_channels)
        for j, start in enumerate(chunks):
            nvr = (f"{recipe.county.code}00{INDUSTRY['xueliang']}{NVR_TYPE}"
                   f"{len(rows) + 1:07d}")
            suffix = f"-{j + 1}" if len(chunks) > 1 else ""
            rows.append((nvr, f"{vil.names[v]}雪亮NVR{suffix}"))
            parent[members[start:start + cc.nvr_channels]] = nvr
    return parent, pd.DataFrame(rows, columns=["code", "name"])
