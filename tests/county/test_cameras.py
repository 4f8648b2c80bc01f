"""The demo's cameras look like real installations: tall poles and PTZ domes with presets at
main crossings, short poles in villages, ranges that follow the lens, valid GB/T 28181 ids,
雪亮 cameras under community NVRs (built county, and as loaded into PostGIS)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.cameras.device_id import decode
from backend.county import County, load_recipe
from backend.county.cameras import (
    PTZ_BULLET,
    PTZ_DOME,
    aim_tilt,
    compass,
    installation,
    lens_range,
)

COUNTY = {"341324"}


def test_ids_still_decode_and_places_are_kept(small_county: County) -> None:
    cams = small_county.tables["cameras"]
    for code in cams["code"]:
        d = decode(code, COUNTY)
        assert d.type_code == "132" and d.is_camera
    for code in small_county.camera_devices["code"]:
        assert decode(code, COUNTY).type_code in ("132", "118")
    # the catalog's CivilCode is the township the camera stands in
    assert (cams["civil_code"] == cams["township_code"]).all()
    assert cams["civil_code"].str.fullmatch(r"341324\d{3}").all()


def test_heights_are_higher_at_main_crossings_than_in_villages(small_county: County) -> None:
    recipe = load_recipe()
    spans = recipe.cameras.height_m
    kind = np.array(["tianwang", "traffic", "xueliang", "xueliang"] * 50, dtype=object)
    main = np.array([True, True, False, False] * 50)
    ctx = np.array([0, 0, 1, 2] * 50)  # city, city, town, rural
    got = installation(recipe, np.random.default_rng(1), kind, np.full(200, 60.0), main, ctx,
                       np.full(200, 5000.0))
    h = got["height_m"]
    assert h[main].min() >= spans["main_crossing"].lo > spans["rural"].hi >= h[ctx == 2].max()
    assert h[ctx == 1].mean() > h[ctx == 2].mean()
    domes = got["ptz_type"] == PTZ_DOME
    assert domes[main & (kind == "tianwang")].mean() > 0.4  # most 天网 at main crossings
    assert not domes[kind != "tianwang"].any()
    # In the built county, domes (at main crossings) stand on taller poles than bullets.
    cams = small_county.tables["cameras"]
    assert cams["height_m"].between(spans["rural"].lo, spans["main_crossing"].hi).all()
    dome_h = cams.loc[cams["ptz_type"] == PTZ_DOME, "height_m"]
    assert len(dome_h) and dome_h.mean() > cams.loc[cams["ptz_type"] == PTZ_BULLET,
                                                    "height_m"].mean()


def test_full_county_values_satisfy_the_table_checks() -> None:
    """Every value the whole county's cameras carry passes migration 0018's CHECKs (a heading
    rounded to 360.0 once broke the full demo load)."""
    from backend.county import build_county

    full = build_county(load_recipe(), scale=1.0)
    cams, p = full.tables["cameras"], full.camera_presets
    assert len(cams) == load_recipe().cameras.count
    assert cams["direction_deg"].between(0, 360, inclusive="left").all()
    assert p["heading_deg"].between(0, 360, inclusive="left").all()
    assert cams["fov_deg"].between(0, 360, inclusive="right").all()
    assert cams["range_m"].between(0, 2000, inclusive="right").all()
    assert cams["height_m"].between(0, 200, inclusive="right").all()
    assert cams["tilt_deg"].between(-90, 90).all()
    assert cams["code"].str.fullmatch(r"[0-9]{20}").all()


def test_presets_only_on_domes_each_with_its_own_view(small_county: County) -> None:
    cams = small_county.tables["cameras"].set_index("code")
    p = small_county.camera_presets
    assert len(p) > 0, "the small county has domes with presets"
    assert set(cams.loc[p["camera_code"].unique(), "ptz_type"]) == {PTZ_DOME}
    lo, hi = load_recipe().cameras.domes.presets
    per = p.groupby("camera_code")["preset_no"]
    assert per.count().between(lo, hi).all()
    assert (per.min() == 1).all() and (per.max() == per.count()).all()  # numbered 1..n
    assert p["heading_deg"].between(0, 360, inclusive="left").all()
    assert p.groupby("camera_code")["heading_deg"].nunique().ge(2).all()
    assert p["range_m"].between(1, 2000).all() and p["tilt_deg"].lt(0).all()
    assert p["name"].str.endswith("向").all()


def test_range_and_tilt_follow_the_lens_and_the_pole() -> None:
    lens = load_recipe().cameras.lens["traffic"]
    wide, narrow = lens_range(np.array([55.0, 30.0]), np.array([50.0, 50.0]), lens)
    assert narrow > wide  # a longer lens sees farther
    assert float(lens_range(np.array(1.0), np.array(50.0), lens)) == lens.range_m.hi
    assert float(aim_tilt(np.array(10.0), np.array(100.0))) < \
        float(aim_tilt(np.array(5.0), np.array(100.0))) < 0  # a taller pole looks down more
    assert compass(0) == "北" and compass(90) == "东" and compass(359) == "北"


def test_catalog_fields_and_nvr_grouping(small_county: County) -> None:
    cams = small_county.tables["cameras"]
    c = load_recipe().cameras
    assert set(cams["use_type"]) <= {1, 2, 3}
    assert (cams.loc[cams["kind"] == "traffic", "use_type"] == 2).all()
    assert (cams.loc[cams["kind"] == "traffic", "owner"] == c.owners["traffic"]).all()
    assert cams["model"].str.contains("示意").all()
    assert cams["address"].str.startswith("泗县").all()
    xl = cams["kind"] == "xueliang"
    assert cams.loc[xl, "parent_code"].str.fullmatch(r"34132400011180\d{6}").all()
    assert cams.loc[~xl, "parent_code"].isna().all()
    assert cams.loc[xl].groupby("parent_code").size().le(c.nvr_channels).all()
    dev = small_county.camera_devices
    assert dev["code"].is_unique and (dev["keepalive_s"] == c.keepalive_s).all()
    registering = set(cams.loc[~xl, "code"]) | set(cams.loc[xl, "parent_code"])
    assert set(dev["code"]) == registering


def test_loaded_presets_and_devices(engine: Engine, county: dict[str, int],
                                    small_county: County) -> None:
    with engine.connect() as conn:
        got = pd.read_sql(sa.text(
            "SELECT c.code AS camera_code, p.preset_no, p.heading_deg FROM camera_presets p "
            "JOIN cameras c ON c.id = p.camera_id WHERE c.source = 'demo:sixian' "
            "ORDER BY 1, 2"), conn)
        devices = conn.execute(sa.text("SELECT count(*) FROM camera_devices WHERE ha1 IS NULL "
                                       "AND keepalive_s = 60")).scalar_one()
        heights = conn.execute(sa.text("SELECT count(*) FROM cameras WHERE source = "
                                       "'demo:sixian' AND height_m IS NOT NULL AND range_m IS "
                                       "NOT NULL AND tilt_deg < 0")).scalar_one()
    assert county["camera_presets"] == len(got) == len(small_county.camera_presets)
    assert devices >= county["camera_devices"] == len(small_county.camera_devices)
    assert heights == county["cameras"]
