"""build_county: the whole generator, from recipe to tables. Pure: no database, no clock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from backend.county.buildings import assign_to_parcels
from backend.county.cadastre import build_parcels, canal_polygon
from backend.county.cameras import build_cameras
from backend.county.frame import Frame, boxes
from backend.county.grid import build_grid
from backend.county.lattice import CITY, FARM, VILLAGE, build_lattice, choose_detail
from backend.county.parcels import layout_cells
from backend.county.pilot import build_pilot
from backend.county.recipe import Recipe
from backend.county.roads import build_roads, halfwidth_fn
from backend.county.tables import County, frame_table
from backend.county.townships import build_townships, build_villages, load_county
from backend.county.transit import build_transit, resolve_places
from backend.county.utilities import build_pipelines


def build_county(recipe: Recipe, *, scale: float = 1.0, seed: int | None = None) -> County:
    """Build the demo county. `scale` (0 < scale <= 1) limits the detailed region (parcels,
    buildings, local and rural roads, pipelines, cameras) to the cells nearest the seat holding
    about that share of the parcels; townships, grid cells, main roads, bus lines and pilot
    segments are always complete. The same recipe, seed and scale give identical output."""
    if not 0 < scale <= 1:
        raise ValueError("scale must be in (0, 1]")
    if seed is not None:
        recipe = recipe.model_copy(update={"seed": seed})
    seat = recipe.county.seat
    frame = Frame.at_seat(seat.lon, seat.lat, recipe.frame.metric_epsg, recipe.frame.rotation_deg)
    wgs, county = load_county(recipe, frame)

    seats = np.array([frame.offset(*t.offset_km) for t in recipe.townships])
    lat = build_lattice(recipe, county, seats)
    tw = build_townships(recipe, frame, county, lat)
    vil = build_villages(recipe, tw, lat)
    hamlets: dict[tuple[int, int], np.ndarray] = {}
    ha, hb = lat.locate(vil.hamlet_points)
    for k, (a, b) in enumerate(zip(ha, hb, strict=True)):
        if a >= 0 and lat.kind[a, b] in (FARM, VILLAGE):
            lat.kind[a, b] = VILLAGE
            hamlets.setdefault((int(a), int(b)), vil.hamlet_points[k])
    choose_detail(lat, recipe, county, scale)

    roads = build_roads(recipe, frame, county, tw, lat)
    industrial = np.zeros(lat.shape, dtype=bool)
    cu, cv = lat.centres()
    for t, code in enumerate(tw.codes):
        if code[6:] in recipe.urban.industrial_townships and not shapely.is_empty(tw.polys[t]):
            shapely.prepare(tw.polys[t])
            industrial |= (lat.kind == CITY) & shapely.contains_xy(tw.polys[t], cu, cv)
    lay = layout_cells(recipe, lat, hamlets, halfwidth_fn(recipe, lat), industrial)
    canal = canal_polygon(recipe, np.array([frame.offset(*p) for p in recipe.canal.via_km]))
    parcels = build_parcels(recipe, lay, lat, tw, vil, roads.corridors, canal)

    bx = np.vstack(lay.bx) if lay.bx else np.empty((0, 4))
    bgeoms = boxes(bx[:, 0], bx[:, 1], bx[:, 2], bx[:, 3])
    owner = assign_to_parcels(bgeoms, parcels.geoms)
    keep = owner >= 0
    floors = np.concatenate(lay.bf)[keep] if lay.bf else np.empty(0, dtype=int)
    height = np.concatenate(lay.bh)[keep] if lay.bh else np.empty(0)
    use = np.concatenate(lay.bu)[keep] if lay.bu else np.empty(0, dtype=object)
    owner = owner[keep]
    order = np.argsort(owner, kind="stable")
    nth = np.empty(len(owner), dtype=int)
    first = np.searchsorted(owner[order], owner[order])
    nth[order] = np.arange(len(owner)) - first + 1
    bkeys = [f"{parcels.code[o]}-{k:03d}" for o, k in zip(owner, nth, strict=True)]

    pipes = build_pipelines(recipe, lat, roads)
    cams = build_cameras(recipe, frame, lat, roads, tw, vil, scale)
    places = resolve_places(recipe, frame, tw, roads)
    bus = build_transit(recipe, roads, places, vil)
    grid = build_grid(recipe, tw, vil, lat)
    pilot = build_pilot(recipe, lat, roads)

    src = recipe.source
    rc = recipe.road_classes
    land = recipe.land_use
    c = recipe.county
    out = County(source=src, seed=recipe.seed, scale=scale)
    t = out.tables
    t["county"] = frame_table(None, np.array([wgs]), "polygon", src, [c.code], code=[c.code],
                              name=[c.name], name_en=[c.name_en], attribution=[c.attribution])
    t["townships"] = frame_table(frame, tw.polys, "polygon", src, tw.codes, densify=True,
                                 code=tw.codes,
                                 name=tw.names, kind=tw.kinds)
    t["roads"] = frame_table(
        frame, roads.geoms, "line", src, roads.keys, road_class=roads.cls, name=roads.name,
        speed_limit=np.array([rc[x].speed for x in roads.cls]),
        lanes=np.array([rc[x].lanes for x in roads.cls]),
        rank=np.array([rc[x].rank for x in roads.cls]))
    t["parcels"] = frame_table(
        frame, parcels.geoms, "polygon", src, parcels.code, densify=parcels.densify,
        parcel_code=parcels.code,
        land_use=parcels.land_use, land_use_name=[land[u].name for u in parcels.land_use],
        area_m2=parcels.area, ownership=parcels.ownership,
        township_code=[tw.codes[i] for i in parcels.township])
    t["buildings"] = frame_table(frame, bgeoms[keep], "polygon", src, bkeys,
                                 name=np.full(len(bkeys), None, dtype=object), use=use,
                                 floors=floors.astype(int), height=np.round(height, 1))
    t["pipelines"] = frame_table(
        frame, pipes.geoms, "line", src, pipes.key, network=pipes.network,
        diameter_mm=pipes.diameter, material=pipes.material, depth_start_m=pipes.depth_start,
        depth_end_m=pipes.depth_end, install_year=pipes.year, owner=pipes.owner,
        pressure_class=pipes.pressure)
    t["cameras"] = frame_table(frame, cams.geoms, "point", src, cams.code, **cams.columns)
    t["bus_lines"] = frame_table(
        frame, bus.line_geoms, "line", src, bus.line_code, code=bus.line_code,
        name=bus.line_name, color=bus.line_color,
        operator=[recipe.bus.operator] * len(bus.line_code), length_m=bus.line_length)
    t["bus_stops"] = frame_table(frame, bus.stop_geoms, "point", src, bus.stop_code,
                                 code=bus.stop_code, name=bus.stop_name)
    t["grid_cells"] = frame_table(
        frame, grid.geoms, "polygon", src, grid.code, densify=True, grid_code=grid.code,
        name=grid.name,
        township_code=[tw.codes[i] for i in grid.township],
        township_name=[tw.names[i] for i in grid.township], community=grid.community)
    t["pilot_segments"] = frame_table(
        frame, pilot.geoms, "line", src, pilot.code, code=pilot.code, name=pilot.name,
        road_name=pilot.road, direction=pilot.direction, speed_limit=pilot.speed,
        length_m=pilot.length)
    out.camera_presets, out.camera_devices = cams.presets, cams.devices
    out.line_stops = pd.DataFrame(bus.line_stops,
                                  columns=["line_code", "seq", "stop_code", "distance_m"])
    return out
