"""Rules as data: each dataset's rules derived from its catalog record and field declarations,
plus content.yaml's value rules and quality_rules.yaml's extras; `sync_rules` upserts them into
quality_rules by (dataset_id, rule_key) and switches off the ones no longer derived.

Derivation (`derive`, pure): required -> required; data_type -> type; authority -> authority
(via the field that links to the source dataset, else the key); link -> reference; kind
id_number -> check_digits citizen_id; a field named *uscc -> check_digits uscc; key_field ->
unique; geometry_type -> geom_valid, geom_nonempty, geom_type, geom_srid, inside_county;
coverage -> no_overlaps, no_gaps; update_cycle -> timely (the allowance table of the file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from backend.catalog.quality_rules import QualityRulesFile, content_rules, load_quality_rules
from backend.quality.kinds import KINDS, parse_params


@dataclass(frozen=True)
class FieldMeta:
    name: str
    data_type: str
    required: bool = False
    kind: str | None = None
    authority: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class DatasetMeta:
    id: str
    update_cycle: str
    key_field: str | None = None
    geometry_type: str | None = None
    coverage: bool = False
    fields: tuple[FieldMeta, ...] = ()


@dataclass
class RuleSpec:
    rule_key: str
    kind: str
    dimension: str
    params: dict[str, Any]
    blocking: bool = False


@dataclass
class RuleBook:
    """What the files add to the catalog's declarations."""

    file: QualityRulesFile
    content: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, catalog_dir: Path) -> RuleBook:
        return cls(load_quality_rules(catalog_dir), content_rules(catalog_dir))


def rule_key(kind: str, params: dict[str, Any]) -> str:
    return f"{kind}:{params['field']}" if "field" in params else kind


def _spec(kind: str, params: dict[str, Any], book: RuleBook) -> RuleSpec:
    merged = {**book.file.defaults.params.get(kind, {}), **params}
    checked = parse_params(kind, merged).model_dump(mode="json")
    return RuleSpec(rule_key(kind, merged), kind, KINDS[kind].dimension, checked,
                    kind in book.file.defaults.blocking)


def derive(ds: DatasetMeta, book: RuleBook) -> list[RuleSpec]:
    """The dataset's rules, in a stable order (ValueError: a declaration the kinds refuse)."""
    wanted: list[tuple[str, dict[str, Any]]] = []
    links = {f.link: f.name for f in ds.fields if f.link}
    for f in ds.fields:
        if f.data_type == "geometry":
            continue
        if f.required:
            wanted.append(("required", {"field": f.name}))
        if f.data_type != "string":
            wanted.append(("type", {"field": f.name, "type": f.data_type}))
        if f.kind == "id_number":
            wanted.append(("check_digits", {"field": f.name, "scheme": "citizen_id"}))
        elif f.name.lower().endswith("uscc"):
            wanted.append(("check_digits", {"field": f.name, "scheme": "uscc"}))
        if f.link:
            wanted.append(("reference", {"field": f.name, "dataset": f.link}))
        if f.authority:
            source = f.authority.split(".", 1)[0]
            via = links.get(source) or ds.key_field
            if via:
                wanted.append(("authority", {"field": f.name, "source": f.authority,
                                             "via": via}))
    for extra in book.content.get(ds.id, []):
        wanted.append((extra["kind"], extra["params"]))
    if ds.key_field:
        wanted.append(("unique", {"field": ds.key_field}))
    if ds.geometry_type:
        wanted += [("geom_valid", {}), ("geom_nonempty", {}),
                   ("geom_type", {"type": ds.geometry_type}), ("geom_srid", {}),
                   ("inside_county", {})]
        if ds.coverage and ds.geometry_type == "polygon":
            wanted += [("no_overlaps", {}), ("no_gaps", {})]
    allowance = book.file.timeliness.get(ds.update_cycle)  # type: ignore[call-overload]
    wanted.append(("timely", {"cycle": ds.update_cycle,
                              "working_days": allowance.working_days if allowance else None,
                              "working_hours": allowance.working_hours if allowance else None}))
    specs = {s.rule_key: s for s in (_spec(k, p, book) for k, p in wanted)}
    mine = book.file.datasets.get(ds.id)
    if mine is not None:
        for extra in mine.rules:
            spec = _spec(extra.kind, extra.params, book)
            if extra.blocking is not None:
                spec.blocking = extra.blocking
            specs[spec.rule_key] = spec
        for key, blocking in mine.blocking.items():
            if key in specs:
                specs[key].blocking = blocking
        for key in mine.disable:
            specs.pop(key, None)
    return list(specs.values())


# -- the database ------------------------------------------------------------------------------

def catalog_datasets(conn: sa.Connection, dataset_id: str | None = None) -> list[DatasetMeta]:
    rows = conn.execute(sa.text(
        "SELECT d.id, d.update_cycle, d.key_field, d.geometry_type, d.coverage, "
        "coalesce(json_agg(json_build_array(f.name, f.data_type, f.required, f.kind, "
        "f.authority, f.link) ORDER BY f.position) FILTER (WHERE f.name IS NOT NULL), '[]') "
        "FROM datasets d LEFT JOIN dataset_fields f ON f.dataset_id = d.id "
        "WHERE CAST(:id AS text) IS NULL OR d.id = :id GROUP BY d.id ORDER BY d.id"),
        {"id": dataset_id}).all()
    return [DatasetMeta(r[0], r[1], r[2], r[3], bool(r[4]),
                        tuple(FieldMeta(*f) for f in r[5])) for r in rows]


@dataclass
class SyncReport:
    datasets: int = 0
    rules: int = 0
    disabled: int = 0
    problems: list[str] = field(default_factory=list)


def sync_rules(engine: sa.Engine, catalog_dir: Path, dataset_id: str | None = None
               ) -> SyncReport:
    """Upsert every dataset's derived rules (one dataset with `dataset_id`); a dataset whose
    declarations a kind refuses is reported in `problems` and keeps its earlier rules."""
    book = RuleBook.load(catalog_dir)
    report = SyncReport()
    with engine.begin() as conn:
        for ds in catalog_datasets(conn, dataset_id):
            try:
                specs = derive(ds, book)
                _check_patterns(conn, specs)
            except ValueError as exc:
                report.problems.append(f"{ds.id}: {exc}")
                continue
            report.datasets += 1
            report.rules += len(specs)
            for s in specs:
                conn.execute(sa.text(
                    "INSERT INTO quality_rules (dataset_id, rule_key, kind, dimension, params, "
                    "blocking, enabled) VALUES (:d, :k, :kind, :dim, CAST(:p AS jsonb), :b, "
                    "true) ON CONFLICT (dataset_id, rule_key) DO UPDATE SET kind = "
                    "EXCLUDED.kind, dimension = EXCLUDED.dimension, params = EXCLUDED.params, "
                    "blocking = EXCLUDED.blocking, enabled = true"),
                    {"d": ds.id, "k": s.rule_key, "kind": s.kind, "dim": s.dimension,
                     "p": orjson.dumps(s.params).decode(), "b": s.blocking})
            report.disabled += conn.execute(sa.text(
                "UPDATE quality_rules SET enabled = false WHERE dataset_id = :d AND enabled "
                "AND NOT (rule_key = ANY (:keys))"),
                {"d": ds.id, "keys": [s.rule_key for s in specs]}).rowcount
    return report


def _check_patterns(conn: sa.Connection, specs: list[RuleSpec]) -> None:
    """Each regex compiles in PostgreSQL too (its syntax is not Python's): a pattern that did
    not would fail every scan of the dataset, and every new version at the gate."""
    for s in specs:
        if s.kind != "regex":
            continue
        try:
            with conn.begin_nested():
                conn.execute(sa.text("SELECT '' ~ :p"), {"p": s.params["pattern"]})
        except sa.exc.DBAPIError as exc:
            raise ValueError(f"{s.rule_key}: PostgreSQL cannot compile the pattern "
                             f"{s.params['pattern']!r}") from exc
