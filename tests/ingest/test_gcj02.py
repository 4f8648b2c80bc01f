"""GCJ-02 <-> WGS 84 (pure)."""

from __future__ import annotations

import numpy as np

from backend.geo.gcj02 import gcj02_to_wgs84, in_china, wgs84_to_gcj02


def test_reference_point_in_sixian() -> None:
    lon, lat = gcj02_to_wgs84(117.885443, 33.477580)
    assert abs(lon - 117.880022) < 1e-5 and abs(lat - 33.479271) < 1e-5
    g_lon, g_lat = wgs84_to_gcj02(117.880022, 33.479271)
    assert abs(g_lon - 117.885443) < 1e-5 and abs(g_lat - 33.477580) < 1e-5


def test_round_trip_over_china_to_1e9_degrees() -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(73.5, 135.0, 20_000), rng.uniform(18.0, 53.5, 20_000)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    offset = np.hypot(g_lon - lon, g_lat - lat)
    assert offset.min() > 1e-4  # the obfuscation is real: tens to hundreds of metres
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert np.abs(w_lon - lon).max() < 1e-9 and np.abs(w_lat - lat).max() < 1e-9


def test_identity_outside_china() -> None:
    lon, lat = np.array([2.35, -74.0, 151.2]), np.array([48.85, 40.7, -33.9])
    assert not in_china(lon, lat).any()
    for f in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = f(lon, lat)
        assert np.array_equal(out_lon, lon) and np.array_equal(out_lat, lat)
