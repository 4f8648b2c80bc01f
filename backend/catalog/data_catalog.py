"""The data resource catalog's source files (scenarios/sixian/catalog), read strictly.

- `sixian_catalog_2020.csv`: the plan's annex, one row per dataset (department as the annex
  writes it, dataset name); `annex_no` is the row number, 1..323.
- `departments.yaml`: the 41 departments (code, annex spelling, full name, English) and the
  data bureau (SJJ) that runs the catalog.
- `content.yaml`: the datasets whose content the platform holds (fields, key, geometry, share
  type, update cycle...) and the map layers that are annex entries.

Every problem names the file, the entry and what was expected (backend.catalog.strict). Only
this package reads scenarios/ (import rule 4); backend/datasets builds the records from it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from backend.catalog.dataset_content import AnnexRef, ContentDataset, ContentFile, LayerEntry
from backend.catalog.population_sources import FILE as POPULATION_FILE
from backend.catalog.population_sources import load_population_sources
from backend.catalog.strict import CatalogError, Strict, read_yaml

if TYPE_CHECKING:
    from backend.catalog.layers import LayerCatalog

ANNEX_FILE = "sixian_catalog_2020.csv"
DEPARTMENTS_FILE = "departments.yaml"
CONTENT_FILE = "content.yaml"
Code = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{0,9}$")]


class DepartmentEntry(Strict):
    code: Code
    annex: str = Field(min_length=1)
    name: str = Field(min_length=1)
    en: str = Field(min_length=1)


class BureauEntry(Strict):
    code: Code
    name: str = Field(min_length=1)
    en: str = Field(min_length=1)


class DepartmentsFile(Strict):
    departments: list[DepartmentEntry] = Field(min_length=1)
    bureau: BureauEntry


@dataclass(frozen=True, slots=True)
class AnnexRow:
    annex_no: int          # the row number in the annex, 1..323
    department: str        # the department's code
    name: str


@dataclass(frozen=True)
class DataCatalog:
    """The annex with department codes, the departments, and the content declarations with
    the annex row each one is (`content_rows` / `layer_rows`: id -> annex_no)."""

    annex: list[AnnexRow]
    departments: list[DepartmentEntry]
    bureau: BureauEntry
    content: list[ContentDataset]
    layers: list[LayerEntry]
    content_rows: dict[str, int]
    layer_rows: dict[str, int]
    # annex_no -> the summary of an entry whose data is the population base itself
    # (population_sources.yaml `views`: 常驻人口信息, 人户分离信息)
    summaries: dict[int, str] = field(default_factory=dict)


def _read_annex(path: Path, by_annex_name: dict[str, str]) -> tuple[list[AnnexRow], list[str]]:
    label = path.name
    problems: list[str] = []
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            records = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError([f"{label}: (file): cannot read as UTF-8 CSV: {exc}"]) from exc
    if header != ["department", "dataset"]:
        raise CatalogError([f"{label}: (header): expected the columns department,dataset, "
                            f"got {header!r}"])
    rows = []
    for no, record in enumerate(records, start=1):
        if len(record) != 2 or not record[0].strip() or not record[1].strip():
            problems.append(f"{label}: row {no}: expected a department and a dataset name, "
                            f"got {record!r}")
            continue
        dept, name = record[0].strip(), record[1].strip()
        code = by_annex_name.get(dept)
        if code is None:
            problems.append(f"{label}: row {no} ({name}): department {dept!r} has no code in "
                            f"{DEPARTMENTS_FILE} (add it with its `annex` spelling)")
            continue
        rows.append(AnnexRow(no, code, name))
    return rows, problems


def _annex_ref(label: str, ref: AnnexRef, by_annex_name: dict[str, str],
               index: dict[tuple[str, str], int]) -> tuple[int | None, str | None]:
    code = by_annex_name.get(ref.department)
    if code is None:
        return None, (f"{label}: annex.department: {ref.department!r} is not a department "
                      f"of {DEPARTMENTS_FILE}")
    no = index.get((code, ref.name))
    if no is None:
        return None, (f"{label}: annex.name: {ref.name!r} is not a dataset of {ref.department} "
                      f"in {ANNEX_FILE}")
    return no, None


def _check_fields(content: list[ContentDataset], layer_ids: set[str]) -> list[str]:
    fields_of = {d.id: {f.name for f in d.fields} for d in content}
    problems = []
    for d in content:
        if d.key not in fields_of[d.id]:
            problems.append(f"{CONTENT_FILE}: {d.id}: key: {d.key!r} is not one of its fields")
        for f in d.fields:
            where = f"{CONTENT_FILE}: {d.id}: fields.{f.name}"
            if f.link is not None and f.link not in fields_of and f.link not in layer_ids:
                problems.append(f"{where}: link: {f.link!r} is not a dataset of the catalog")
            if f.authority is not None:
                ds, _, name = f.authority.partition(".")
                if ds not in fields_of:
                    problems.append(f"{where}: authority: {ds!r} is not a content dataset")
                elif name not in fields_of[ds]:
                    problems.append(f"{where}: authority: {ds} has no field {name!r}")
    return problems


def load_data_catalog(directory: Path, layers: LayerCatalog | None = None) -> DataCatalog:
    """The catalog files of `directory`, checked together; `layers` (the layer catalog) checks
    every `layer:` named. Raises CatalogError with every problem found."""
    deps = read_yaml(directory / DEPARTMENTS_FILE, DepartmentsFile, DEPARTMENTS_FILE)
    problems: list[str] = []
    by_annex_name: dict[str, str] = {}
    seen_codes: set[str] = {deps.bureau.code}
    for i, d in enumerate(deps.departments):
        if d.code in seen_codes:
            problems.append(f"{DEPARTMENTS_FILE}: departments.{i}: code {d.code} is used twice")
        seen_codes.add(d.code)
        by_annex_name[d.annex] = d.code
    annex, annex_problems = _read_annex(directory / ANNEX_FILE, by_annex_name)
    problems += annex_problems
    index: dict[tuple[str, str], int] = {}
    for row in annex:  # the first match of department + name (the annex has one repeat)
        index.setdefault((row.department, row.name), row.annex_no)

    content = read_yaml(directory / CONTENT_FILE, ContentFile, CONTENT_FILE)
    content_rows: dict[str, int] = {}
    layer_rows: dict[str, int] = {}
    taken: dict[int, str] = {}
    seen_ids: set[str] = set()
    for d in content.datasets:
        if d.id in seen_ids:
            problems.append(f"{CONTENT_FILE}: {d.id}: id is used twice")
        seen_ids.add(d.id)
        if d.annex is None:  # outside the annex: its department's code stands for it
            if d.department not in seen_codes:
                problems.append(f"{CONTENT_FILE}: {d.id}: department: {d.department!r} is not "
                                f"a department code of {DEPARTMENTS_FILE}")
            continue
        no, problem = _annex_ref(f"{CONTENT_FILE}: {d.id}", d.annex, by_annex_name, index)
        if problem:
            problems.append(problem)
        elif no is not None:
            if no in taken:
                problems.append(f"{CONTENT_FILE}: {d.id}: annex row {no} is already {taken[no]}")
            taken[no] = d.id
            content_rows[d.id] = no
    for entry in content.layers:
        label = f"{CONTENT_FILE}: layers.{entry.layer}"
        if layers is not None and entry.layer not in layers:
            problems.append(f"{label}: layer: {entry.layer!r} is not a layer of layers/")
        if entry.layer in content_rows:
            problems.append(f"{label}: layer: {entry.layer!r} is also a content dataset id")
        no, problem = _annex_ref(label, entry.annex, by_annex_name, index)
        if problem:
            problems.append(problem)
        elif no is not None:
            if no in taken:
                problems.append(f"{label}: annex row {no} is already {taken[no]}")
            taken[no] = entry.layer
            layer_rows[entry.layer] = no
    layer_ids = set(layers.ids) if layers is not None else {e.layer for e in content.layers}
    problems += _check_fields(content.datasets, layer_ids)
    summaries: dict[int, str] = {}
    if (directory / POPULATION_FILE).exists():
        for view in load_population_sources(directory).views:
            label = f"{POPULATION_FILE}: views.{view.annex.name}"
            no, problem = _annex_ref(label, view.annex, by_annex_name, index)
            if problem:
                problems.append(problem)
            elif no is not None:
                summaries[no] = view.summary
    if problems:
        raise CatalogError(problems)
    return DataCatalog(annex, deps.departments, deps.bureau, content.datasets, content.layers,
                       content_rows, layer_rows, summaries)
