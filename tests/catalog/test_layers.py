"""The layer catalog is validated strictly and its errors say file, key and expectation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend.catalog.layers import CatalogError, load_catalog, model_columns
from backend.main import create_app
from backend.settings import Settings
from tests.conftest import ROOT

LAYERS = ROOT / "layers"


def test_every_layer_file_loads_and_matches_the_schema() -> None:
    catalog = load_catalog(LAYERS, known_columns=model_columns())
    expected = {
        "county", "townships", "roads", "parcels", "buildings", "pipelines", "cameras",
        "bus_lines", "bus_stops", "grid_cells", "pilot_segments", "township_labels",
        "grid_labels",
    }
    assert set(catalog.ids) == expected
    assert catalog["buildings"].extrusion is not None
    assert catalog["county"].is_public and not catalog["parcels"].is_public
    orders = [spec.order for spec in catalog.layers]
    assert orders == sorted(orders)


def _copy_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / "layers"
    shutil.copytree(LAYERS, folder)
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("roads.yaml", "minzoom: 8", "min_zoom: 8", "roads.yaml: min_zoom: unknown key"),
        ("parcels.yaml", "minzoom: 13", "minzoom: thirteen", "parcels.yaml: minzoom:"),
        ("cameras.yaml", "geometry: point", "geometry: dot", "cameras.yaml: geometry:"),
        ("county.yaml", "id: county", "id: counties", "county.yaml: id: must equal"),
        ("roads.yaml", "type: line", "type: lines", "roads.yaml: style: style[0].type"),
        ("buildings.yaml", "roles: [public]\n", "", "buildings.yaml: roles: required key"),
        ("roads.yaml", "{table: roads}", "{table: roadz}", "roads.yaml: source.table: no table"),
        ("cameras.yaml", "{name: fov_deg,", "{name: fov,", "cameras.yaml: fields.5.name:"),
    ],
)
def test_a_typo_names_the_file_and_the_key(
    tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    folder = _copy_with(tmp_path, file, old, new)
    with pytest.raises(CatalogError) as info:
        load_catalog(folder, known_columns=model_columns())
    text = str(info.value)
    assert expected in text, text
    assert all(problem.startswith(file) for problem in info.value.problems)


def test_style_fragment_with_unknown_key_is_rejected(tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "roads.yaml", "layout: {line-cap", "layuot: {line-cap")
    with pytest.raises(CatalogError, match=r"roads.yaml: style: .*unknown keys \['layuot'\]"):
        load_catalog(folder)


def test_layers_check_command_reports_problems(tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "roads.yaml", "minzoom: 8", "minzom: 8")
    cmd = [sys.executable, "-m", "backend.cli", "layers", "check"]
    bad = subprocess.run([*cmd, "--dir", str(folder)], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "roads.yaml: minzom: unknown key (typo?)" in bad.stderr
    good = subprocess.run([*cmd, "--dir", str(LAYERS)], capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr
    assert "13 layers OK" in good.stdout


def test_server_refuses_to_start_with_a_broken_catalog(tmp_path: Path, settings: Settings) -> None:
    folder = _copy_with(tmp_path, "pipelines.yaml", "minzoom: 13", "minzoom: 30")
    with pytest.raises(CatalogError, match=r"pipelines.yaml: minzoom: .*less than or equal to 24"):
        create_app(settings.model_copy(update={"layers_dir": folder}))


def test_coded_values_have_names_in_the_catalog(client) -> None:  # noqa: ANN001
    """Issue 15 item 8: a camera's kind and status are codes (tianwang, online); the layer
    YAML names them and /api/layers passes the names on for popups."""
    layers = {layer["id"]: layer for layer in client.get("/api/layers").json()["layers"]}
    fields = {f["name"]: f for f in layers["cameras"]["fields"]}
    tianwang = fields["kind"]["values"]["tianwang"]
    assert tianwang == {"zh": "天网", "en": "Tianwang (public security)"}
    assert fields["status"]["values"]["online"]["zh"] == "在线"
    assert fields["code"]["values"] is None
