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
        "grid_labels", "ortho", "ortho_county", "dem", "vehicles", "traffic_congestion",
        "traffic_alerts", "cameras_view", "camera_coverage", "population_grid",
    }
    datasets = {"service_halls", "state_assets", "housing_projects", "housing_buildings",
                "relocation_projects", "key_projects", "scenic_spots", "cultural_events",
                "food_markets", "village_land_rights", "land_rights_parcels", "weather_warnings"}
    assert set(catalog.ids) == expected | datasets
    kinds = {spec.id: spec.kind for spec in catalog.layers}
    assert {kinds[i] for i in datasets} == {"dataset"}
    assert not any(catalog[i].visible for i in datasets)  # the wall's views switch them on
    assert all(catalog[i].synthetic and "viewer" in catalog[i].roles for i in datasets)
    expected -= datasets
    assert kinds["ortho"] == "cog" and kinds["dem"] == "dem" and kinds["vehicles"] == "live"
    live = {"vehicles", "traffic_congestion", "traffic_alerts"}
    assert {kinds[i] for i in live} == {"live"}
    views = {"cameras_view", "camera_coverage", "population_grid"}  # views over tables
    assert {kinds[i] for i in views} == {"sql"}
    assert {kinds[i] for i in expected - {"ortho", "ortho_county", "dem"} - live - views} == \
        {"table"}
    assert catalog["roads"].domain == "transport"  # the folder names the domain
    assert [d.id for d in catalog.domains][:3] == ["boundaries", "base", "imagery"]
    assert {spec.domain for spec in catalog.layers} <= {d.id for d in catalog.domains}
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
        ("transport/roads.yaml", "minzoom: 8", "min_zoom: 8",
         "transport/roads.yaml: min_zoom: unknown key"),
        ("base/parcels.yaml", "minzoom: 13", "minzoom: thirteen", "base/parcels.yaml: minzoom:"),
        ("public_safety/cameras.yaml", "geometry: point", "geometry: dot",
         "public_safety/cameras.yaml: geometry:"),
        ("boundaries/county.yaml", "id: county", "id: counties",
         "boundaries/county.yaml: id: must equal"),
        ("transport/roads.yaml", "type: line", "type: lines",
         "transport/roads.yaml: style: style[0].type"),
        ("base/buildings.yaml", "roles: [public]\n", "",
         "base/buildings.yaml: roles: required key"),
        ("transport/roads.yaml", "table: roads}", "table: roadz}",
         "transport/roads.yaml: source.table: no table"),
        ("public_safety/cameras.yaml", "{name: fov_deg,", "{name: fov,",
         "public_safety/cameras.yaml: fields.5.name:"),
        # One dataset model: the source is a union on kind, each checked as strictly.
        ("transport/roads.yaml", "{kind: table,", "{kind: tabel,", "transport/roads.yaml: source:"),
        ("transport/roads.yaml", "{kind: table, table: roads}",
         "{kind: sql, view: roads_v, function: roads_f, reads: [roads]}",
         "transport/roads.yaml: source.sql: give exactly one of view or function"),
        ("transport/roads.yaml", "{kind: table, table: roads}", "{kind: sql, view: roads_v}",
         "transport/roads.yaml: source.sql.reads: required key"),
        ("imagery/ortho.yaml", "formats: [webp, png, jpg]", "formats: [webp, tiff]",
         "imagery/ortho.yaml: source.cog.formats.1:"),
        ("imagery/ortho.yaml", "minzoom: 12", "minzoom: 12\ngeometry: polygon",
         "imagery/ortho.yaml: (top level): geometry does not apply to a cog (raster) layer"),
        ("imagery/dem.yaml", "type: hillshade", "type: fill",
         "imagery/dem.yaml: (top level): style[0].type 'fill' does not suit a dem layer"),
        ("imagery/dem.yaml", "opacity: 0.5", "opacity: 0.5\nbasemap: imagery",
         "imagery/dem.yaml: (top level): basemap: imagery is for cog layers"),
        ("transport/vehicles.yaml", "channel: vehicles.positions", "channel: vehicles.position",
         "transport/vehicles.yaml: source.live.channel:"),
        ("transport/roads.yaml", "id: roads", "id: roads\ndomain: base",
         "transport/roads.yaml: domain: unknown key (implied by where the file lies)"),
        ("transport/roads.yaml", "minzoom: 8", "minzoom: 8\nopacity: 0.5",
         "transport/roads.yaml: (top level): opacity applies to imagery and elevation layers only"),
        # A dataset layer: the dataset and its fields are content.yaml's.
        ("rural_land/village_land_rights.yaml", "dataset: village_land_rights}",
         "dataset: village_rights}",
         "rural_land/village_land_rights.yaml: source.dataset: no dataset 'village_rights'"),
        ("rural_land/village_land_rights.yaml", "{name: certificates_issued,",
         "{name: certificates,", "rural_land/village_land_rights.yaml: fields.6.name: "
         "village_land_rights has no field 'certificates'"),
        ("rural_land/land_rights_parcels.yaml", "  - {name: contract_no,",
         "  - {name: holder_name, zh: 承包方代表, en: Holder}\n  - {name: contract_no,",
         "rural_land/land_rights_parcels.yaml: fields.0.kind: holder_name is personal data"),
        ("weather/weather_warnings.yaml", "geometry: polygon", "geometry: point",
         "weather/weather_warnings.yaml: geometry: weather_warnings holds polygons, not points"),
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
    assert all(problem.startswith(file) for problem in info.value.problems), info.value.problems


def test_style_fragment_with_unknown_key_is_rejected(tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "transport/roads.yaml", "layout: {line-cap", "layuot: {line-cap")
    with pytest.raises(CatalogError, match=r"roads.yaml: style: .*unknown keys \['layuot'\]"):
        load_catalog(folder)


def test_domains_are_one_table_and_folders_must_be_in_it(tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "domains.yaml", "icon: pipe}", "icon: pipe}\n"
                        "  - {id: base, title: {zh: 重复, en: Twice}, order: 99, icon: map}")
    with pytest.raises(CatalogError, match=r"domains.yaml: \(top level\): domain ids must"):
        load_catalog(folder)
    folder = tmp_path / "second"
    shutil.copytree(LAYERS, folder)
    (folder / "nowhere").mkdir()
    shutil.copy(folder / "transport" / "roads.yaml", folder / "nowhere" / "roads2.yaml")
    shutil.copy(folder / "transport" / "roads.yaml", folder / "stray.yaml")
    with pytest.raises(CatalogError) as info:
        load_catalog(folder)
    text = str(info.value)
    assert "nowhere/roads2.yaml: (folder): 'nowhere' is not a domain of domains.yaml" in text
    assert "stray.yaml: (file): layer files live in layers/<domain>/" in text


def test_a_duplicate_id_in_two_folders_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "layers"
    shutil.copytree(LAYERS, folder)
    shutil.copy(folder / "transport" / "roads.yaml", folder / "base" / "roads.yaml")
    with pytest.raises(CatalogError, match="transport/roads.yaml: id: 'roads' is also base/roads"):
        load_catalog(folder)


def test_layers_check_command_reports_problems(tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "transport/roads.yaml", "minzoom: 8", "minzom: 8")
    cmd = [sys.executable, "-m", "backend.cli", "layers", "check"]
    bad = subprocess.run([*cmd, "--dir", str(folder)], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "roads.yaml: minzom: unknown key (typo?)" in bad.stderr
    good = subprocess.run([*cmd, "--dir", str(LAYERS)], capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr
    assert f"{len(load_catalog(LAYERS).ids)} layers OK" in good.stdout


def test_server_refuses_to_start_with_a_broken_catalog(tmp_path: Path, settings: Settings) -> None:
    folder = _copy_with(tmp_path, "utilities/pipelines.yaml", "minzoom: 13", "minzoom: 30")
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
