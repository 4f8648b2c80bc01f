"""Generated pipelines read like a utility's records: cover at each end, drainage falling in its
direction of flow, pressure pipes roughly level, pieces of one line meeting at one depth, gas
pressure classes, owners. Pure: the small county built without a database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pyproj import Transformer

from backend.county import County
from backend.county.depths import gravity_profile, pressure_profile
from backend.county.recipe import DEFAULT_RECIPE, Recipe, Span, load_recipe

TO_METRIC = Transformer.from_crs(4326, 4548, always_xy=True)
CM = 0.01 + 1e-9  # depths are whole centimetres


@pytest.fixture(scope="module")
def pipes(small_county: County) -> pd.DataFrame:
    df = small_county.tables["pipelines"].copy()
    metric = shapely.transform(df["geom"].to_numpy(),
                               lambda xy: np.column_stack(TO_METRIC.transform(*xy.T)))
    df["length"] = shapely.length(metric)
    parts = df["source_key"].str.rsplit("-", n=2, expand=True)
    df["line"], df["piece"] = parts[1], parts[2].astype(int)
    return df


def test_every_piece_has_a_cover_at_each_end_in_its_networks_range(pipes: pd.DataFrame) -> None:
    nets = load_recipe().pipelines.networks
    assert set(pipes["network"]) == set(nets)
    for net, rows in pipes.groupby("network"):
        spec = nets[net]
        for col in ("depth_start_m", "depth_end_m"):
            depth = rows[col].to_numpy(dtype=float)
            assert not np.isnan(depth).any(), (net, col)
            assert depth.min() >= spec.depth_m.lo - 1e-9 and depth.max() <= spec.depth_m.hi + 1e-9
            assert depth.min() >= spec.min_cover_m - 1e-9  # the standard's minimum cover
            assert np.allclose(depth * 100, np.round(depth * 100)), (net, col)


def test_drainage_deepens_downstream_by_the_least_slope(pipes: pd.DataFrame) -> None:
    drainage = pipes[pipes["network"] == "drainage"]
    slope = load_recipe().pipelines.networks["drainage"].slope
    assert slope is not None and len(drainage) > 100
    fall = drainage["depth_end_m"] - drainage["depth_start_m"]
    # 1 mm: the metric length here is re-projected from stored degrees.
    assert (fall >= slope.lo * drainage["length"] - 1e-3).all()
    # Not a uniform tilt: steeper and gentler pieces, the median near the drawn slopes.
    ratio = fall / drainage["length"]
    assert slope.lo <= ratio.median() <= slope.hi
    assert ratio.max() > slope.hi


def test_pressure_pipes_are_roughly_level(pipes: pd.DataFrame) -> None:
    drift = load_recipe().pipelines.drift_m
    pressure = pipes[pipes["network"] != "drainage"]
    step = (pressure["depth_end_m"] - pressure["depth_start_m"]).abs()
    assert step.max() <= drift + 1e-9
    assert (step > 0).mean() > 0.5  # level, not flat: covers vary a little


def _shared_point_depths(a: pd.Series, b: pd.Series) -> tuple[float, float] | None:
    """Depths of two pieces at the vertex they share (first or last of each), or None."""
    ends_a = {0: a["depth_start_m"], -1: a["depth_end_m"]}
    ends_b = {0: b["depth_start_m"], -1: b["depth_end_m"]}
    ca, cb = shapely.get_coordinates(a["geom"]), shapely.get_coordinates(b["geom"])
    for i in (0, -1):
        for j in (0, -1):
            if np.allclose(ca[i], cb[j], atol=1e-9, rtol=0):
                return float(ends_a[i]), float(ends_b[j])
    return None


def test_consecutive_pieces_of_a_line_meet_at_one_depth(pipes: pd.DataFrame) -> None:
    checked = {"drainage": 0, "other": 0}
    for (net, _), rows in pipes.groupby(["network", "line"]):
        rows = rows.sort_values("piece")
        for (_, a), (_, b) in zip(rows.iloc[:-1].iterrows(), rows.iloc[1:].iterrows(),
                                  strict=True):
            if b["piece"] != a["piece"] + 1:
                continue  # a piece between them was left out of the detailed region
            shared = _shared_point_depths(a, b)
            assert shared is not None, (a["source_key"], b["source_key"])
            assert shared[0] == pytest.approx(shared[1]), (a["source_key"], b["source_key"])
            checked["drainage" if net == "drainage" else "other"] += 1
    assert checked["drainage"] > 100 and checked["other"] > 500


def test_drainage_drains_both_ways_to_outfalls(pipes: pd.DataFrame) -> None:
    """Runs alternate: at a shared vertex two pieces either both start (a head) or both end
    (an outfall), as a street's sewers run from a high point to the cross streets."""
    kinds = {"head": 0, "outfall": 0, "through": 0}
    drainage = pipes[pipes["network"] == "drainage"]
    for _, rows in drainage.groupby("line"):
        rows = rows.sort_values("piece")
        for (_, a), (_, b) in zip(rows.iloc[:-1].iterrows(), rows.iloc[1:].iterrows(),
                                  strict=True):
            if b["piece"] != a["piece"] + 1:
                continue
            ca, cb = shapely.get_coordinates(a["geom"]), shapely.get_coordinates(b["geom"])
            a_end = np.allclose(ca[-1], cb[0]) or np.allclose(ca[-1], cb[-1])
            b_end = np.allclose(cb[-1], ca[0]) or np.allclose(cb[-1], ca[-1])
            kinds["outfall" if a_end and b_end else "head" if not (a_end or b_end)
                  else "through"] += 1
    assert all(n > 10 for n in kinds.values()), kinds


def test_gas_has_a_pressure_class_and_nothing_else_does(pipes: pd.DataFrame) -> None:
    gas = pipes["network"] == "gas"
    assert pipes.loc[gas, "pressure_class"].notna().all()
    assert pipes.loc[~gas, "pressure_class"].isna().all()
    wanted = set(load_recipe().pipelines.networks["gas"].pressure.values())  # type: ignore[union-attr]
    assert set(pipes.loc[gas, "pressure_class"]) == wanted
    # Courtyard lines (low) are smaller than the mains (medium).
    by_class = pipes[gas].groupby("pressure_class")["diameter_mm"].median()
    assert by_class["low"] < by_class["medium_a"]


def test_owners_come_from_the_recipe_one_per_line(pipes: pd.DataFrame) -> None:
    nets = load_recipe().pipelines.networks
    for net, rows in pipes.groupby("network"):
        assert set(rows["owner"]) <= set(nets[net].owners), net
        assert (rows.groupby("line")["owner"].nunique() == 1).all(), net
    assert pipes.loc[pipes["network"] == "telecom", "owner"].nunique() > 1


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.floats(1.0, 375.0), min_size=1, max_size=60),
       seed=st.integers(0, 2**32 - 1))
def test_gravity_profile_holds_for_any_pieces(lengths: list[float], seed: int) -> None:
    depth, slope = Span(lo=1.5, hi=4.0), Span(lo=0.003, hi=0.006)
    ls = np.array(lengths)
    d, flow = gravity_profile(ls, np.random.default_rng(seed), depth=depth, slope=slope,
                              head_share=0.25)
    assert len(d) == len(ls) + 1 and len(flow) == len(ls)
    assert d.min() >= 150 and d.max() <= 400
    start = np.where(flow, d[:-1], d[1:])
    end = np.where(flow, d[1:], d[:-1])
    assert (end - start >= np.ceil(slope.lo * 100 * ls - 1e-9)).all()


def test_pressure_profile_is_a_bounded_walk() -> None:
    d = pressure_profile(500, np.random.default_rng(7), depth=Span(lo=0.9, hi=1.5), drift_m=0.15)
    assert d.min() >= 90 and d.max() <= 150 and np.abs(np.diff(d)).max() <= 15


@pytest.mark.parametrize(("path", "value", "words"), [
    (("telecom", "depth_m"), [0.5, 1.0], "under the minimum cover"),
    (("drainage", "depth_m"), [1.5, 2.0], "does not fit in depth_m"),
    (("power", "pressure"), {"primary": "low"}, "only for gas"),
    (("gas", "pressure"), {"primary": "medium_a"}, "no class for gas under secondary"),
    (("gas", "pressure"), {"primary": "very_high"}, "low"),
])
def test_the_recipe_refuses_incoherent_networks(path: tuple[str, str], value: object,
                                                 words: str) -> None:
    raw = yaml.safe_load(DEFAULT_RECIPE.read_text(encoding="utf-8"))
    raw["pipelines"]["networks"][path[0]][path[1]] = value
    with pytest.raises(ValidationError, match=words):
        Recipe.model_validate(raw)
