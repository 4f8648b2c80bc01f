"""The camera views file: the county's own metric CRS, every kind's defaults, strict keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from backend.catalog.camera_views import DEFAULT_PATH, CameraViewsError, load_camera_views
from backend.catalog.scenarios import SCENARIOS_DIR


def test_the_views_use_the_county_frame_and_cover_every_kind() -> None:
    params = load_camera_views()
    recipe = yaml.safe_load((SCENARIOS_DIR / "sixian" / "recipe.yaml").read_text("utf-8"))
    assert params.metric_epsg == recipe["frame"]["metric_epsg"]
    assert set(params.default_range_m) == set(params.default_fov_deg) == {
        "tianwang", "xueliang", "traffic"}


@pytest.mark.parametrize(("change", "named"), [
    ({"default_range_m": {"tianwang": 80, "xueliang": 50}}, "missing ['traffic']"),
    ({"default_range_m": {"tianwang": 0, "xueliang": 50, "traffic": 1}}, "default_range_m"),
    ({"default_fov_deg": {"tianwang": 400, "xueliang": 90, "traffic": 45}}, "default_fov_deg"),
    ({"batchsize": 3}, "batchsize: unknown key"),
])
def test_a_bad_file_names_the_key(tmp_path: Path, change: dict, named: str) -> None:
    raw = {**yaml.safe_load(DEFAULT_PATH.read_text("utf-8")), **change}
    path = tmp_path / "camera_views.yaml"
    path.write_text(yaml.safe_dump(raw), "utf-8")
    with pytest.raises(CameraViewsError) as err:
        load_camera_views(path)
    assert "camera_views.yaml" in str(err.value) and named in str(err.value)
