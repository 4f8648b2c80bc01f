"""The view files, strictly: every refusal names the file and the key, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.catalog.dataset_content import load_content
from backend.catalog.domain_views import department_names, load_view_files
from backend.catalog.layers import load_catalog, model_columns
from backend.catalog.strict import CatalogError
from backend.settings import Settings
from tests.domains.fixtures import TEST_VIEW

SETTINGS = Settings(env="test")


def _load(tmp_path: Path, files: dict[str, str]) -> list:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    layers = load_catalog(SETTINGS.layers_dir, known_columns=model_columns())
    return load_view_files(tmp_path, domains=layers.domains,
                           departments=set(department_names(SETTINGS.catalog_dir)),
                           layers=layers, datasets={d.id: d for d in load_content()})


def _problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        _load(tmp_path, files)
    return caught.value.problems


def test_a_good_file_loads(tmp_path: Path) -> None:
    (spec,) = _load(tmp_path, {"culture_tourism.yaml": TEST_VIEW})
    assert spec.id == "culture_tourism" and [k.id for k in spec.kpis][:2] == ["spots", "capacity"]


BAD = """
id: culture_tourism
department: NOPE
datasets: [scenic_spots, no_such_dataset]
layers: [no_such_layer]
kpis:
  - id: a
    title: {zh: 甲, en: A}
    unit: {zh: 个, en: n}
    sql: SELECT count(*) AS value FROM visitor_flow
  - id: b
    title: {zh: 乙, en: B}
    unit: {zh: 个, en: n}
    sql: SELECT count(*) AS value FROM scenic_spots; DELETE FROM scenic_spots
  - id: c
    title: {zh: 丙, en: C}
    unit: {zh: 个, en: n}
    sql: SELECT count(*) AS value FROM scenic_spots s JOIN users u ON true, public.sessions x
    map: {layer: cameras, filter: ["==", 1, 1]}
charts:
  - id: d
    type: bar
    title: {zh: 丁, en: D}
    sql: SELECT 1 AS label, 2 AS value FROM scenic_spots
"""


def test_every_cross_file_problem_at_once(tmp_path: Path) -> None:
    problems = _problems(tmp_path, {"culture_tourism.yaml": BAD})
    text = "\n".join(problems)
    label = "domains/culture_tourism.yaml"
    assert all(p.startswith(label + ": ") for p in problems)
    for expected in ("department: 'NOPE' is not a code",
                     "datasets.1: 'no_such_dataset' is not a dataset of content.yaml",
                     "layers.0: 'no_such_layer' is not a layer",
                     "kpis.0.sql: relation 'visitor_flow' is not a dataset this view declares",
                     "kpis.1.sql: expected one statement, found 2",
                     "kpis.2.sql: relation 'users' is not a dataset",
                     "kpis.2.sql: 'public.sessions': schema-qualified",
                     "kpis.2.map.layer: 'cameras' is not one of the view's layers"):
        assert expected in text, (expected, text)


@pytest.mark.parametrize(("change", "expected"), [
    (("department: WLJ", "department: WLJ\ncolour: red"), "colour: unknown key (typo?)"),
    (("type: pie", "type: donut"), "charts.0.type: Input should be 'bar', 'line'"),
    (("stale_after: 2h", "stale_after: two hours"), "kpis.6.stale_after: expected a duration"),
    (("id: culture_tourism", "id: space_travel"), "id: must equal the file name"),
    (("    better: up\n    thresholds: {warn: 2000, alarm: 1000}",
      "    better: none\n    thresholds: {warn: 2000, alarm: 1000}"),
     "kpis.1: thresholds need better: up or down"),
    (("reference: {kind: target, label: {zh: 目标, en: Target}, value: 3000}",
      "reference: {kind: target, label: {zh: 目标, en: Target}}"),
     "kpis.1.reference: a target reference needs value"),
])
def test_a_file_problem_names_the_key(tmp_path: Path, change: tuple[str, str],
                                      expected: str) -> None:
    old, new = change
    assert old in TEST_VIEW
    problems = _problems(tmp_path, {"culture_tourism.yaml": TEST_VIEW.replace(old, new, 1)})
    assert any(expected in p and p.startswith("domains/culture_tourism.yaml: ")
               for p in problems), problems


def test_an_unknown_domain_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, {"space_travel.yaml": TEST_VIEW.replace(
        "id: culture_tourism", "id: space_travel")})
    assert any("id: 'space_travel' is not a domain of layers/domains.yaml" in p
               for p in problems)


def test_the_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from backend.cli import main

    assert main(["domains", "check", "--no-database"]) == 0
    assert "8 domain views OK (static checks only" in capsys.readouterr().out
    (tmp_path / "culture_tourism.yaml").write_text(TEST_VIEW.replace("type: pie", "type: donut"),
                                                   encoding="utf-8")
    assert main(["domains", "check", "--no-database", "--dir", str(tmp_path)]) == 1
    assert "domains/culture_tourism.yaml: charts.0.type" in capsys.readouterr().out


def test_a_views_sql_sees_no_personal_field() -> None:
    """被征收人 and phones are not columns a view's SQL can read (so no chart label shows them)."""
    from backend.domains.views import DatasetInfo

    content = {d.id: d for d in load_content()}
    households = dict(DatasetInfo.of(content["relocation_households"]).fields)
    assert "head_name" not in households and "phone" not in households
    assert {"stage", "project_id", "township_code"} <= set(households)
    assert "transferor" not in dict(DatasetInfo.of(content["land_transfers"]).fields)
