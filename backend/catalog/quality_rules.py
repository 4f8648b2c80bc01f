"""Reads the quality rules' data: scenarios/sixian/catalog/quality_rules.yaml (timeliness
allowances, default parameters, blocking kinds, per-dataset extras), validated strictly, and
the range / values / regex declarations of content.yaml's fields (read leniently here: the
catalog's loader owns that file's full model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from backend.catalog.strict import CatalogError, Strict, parse_yaml

RULES_FILE = "quality_rules.yaml"
CONTENT_FILE = "content.yaml"
Cycle = Literal["realtime", "daily", "weekly", "monthly", "quarterly", "half_yearly", "yearly",
                "irregular"]


class Allowance(Strict):
    working_days: float | None = Field(default=None, gt=0)
    working_hours: float | None = Field(default=None, gt=0)


class ExtraRule(Strict):
    kind: str = Field(pattern=r"^[a-z_0-9]+$")
    params: dict[str, Any] = {}
    blocking: bool | None = None


class DatasetRules(Strict):
    rules: list[ExtraRule] = []
    blocking: dict[str, bool] = {}
    disable: list[str] = []


class Defaults(Strict):
    blocking: list[str] = []
    params: dict[str, dict[str, Any]] = {}


class QualityRulesFile(Strict):
    timeliness: dict[Cycle, Allowance | None]
    defaults: Defaults = Defaults()
    datasets: dict[str, DatasetRules] = {}


def load_quality_rules(catalog_dir: Path) -> QualityRulesFile:
    path = catalog_dir / RULES_FILE
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise CatalogError([f"{path}: (file): cannot be read: {exc}"]) from exc
    return parse_yaml(text, QualityRulesFile, str(path))


def content_rules(catalog_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Per dataset id, the value rules content.yaml declares on its fields:
    [{kind: range|enum|regex, params: {...}}] (an absent file: none)."""
    path = catalog_dir / CONTENT_FILE
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError([f"{path}: (file): not readable YAML: {exc}"]) from exc
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in raw.get("datasets") or []:
        rules = []
        for field in entry.get("fields") or []:
            name = field.get("name")
            if "range" in field:
                low, high = field["range"]
                rules.append({"kind": "range", "params": {
                    "field": name, "min": None if low is None else float(low),
                    "max": None if high is None else float(high)}})
            if "values" in field:
                rules.append({"kind": "enum", "params": {
                    "field": name, "values": [str(v) for v in field["values"]]}})
            if "regex" in field:
                rules.append({"kind": "regex", "params": {"field": name,
                                                          "pattern": str(field["regex"])}})
        if rules and entry.get("id"):
            out[str(entry["id"])] = rules
    return out
