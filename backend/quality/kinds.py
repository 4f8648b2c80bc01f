"""The library of rule kinds. Pure: no database, no web framework.

Each kind has its names (zh-CN, English), the quality dimension it scores, a strict params model
and how it is checked:

- `predicate`: an SQL boolean over one row of the relation (`key text, data jsonb, geom
  geometry`), TRUE when the row passes; the runner evaluates every predicate rule of a dataset
  in one scan (`count(*) FILTER (WHERE NOT p)`), with a sample value and reason per kind;
- `column`: a Python check over one column's values, streamed (check digits);
- `group`: an aggregate of its own over the relation (uniqueness, coverage overlaps and gaps,
  GCJ-02 plausibility);
- `join`: a join against another dataset (reference, authority), one join per linked dataset
  whatever the number of its rules;
- `dataset`: about the dataset record, not its rows (timeliness).

Uniqueness is scored as validity, not consistency: a repeated key makes the record itself
unusable as the identifier of its entity (GB/T 36344's 唯一性 sits under 准确性), whereas
consistency here means agreeing with other datasets (reference, 一数一源 authority).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from psycopg2 import sql
from pydantic import BaseModel, ConfigDict, Field, field_validator

FIELD = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
DATASET = r"^[a-z][a-z0-9_]{0,62}$"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FieldParams(Params):
    field: str = Field(pattern=FIELD)


class TypeParams(FieldParams):
    type: Literal["string", "integer", "number", "date", "datetime", "boolean"]


class RangeParams(FieldParams):
    min: float | None = None
    max: float | None = None


class EnumParams(FieldParams):
    values: list[str] = Field(min_length=1, max_length=500)


class RegexParams(FieldParams):
    pattern: str = Field(min_length=1, max_length=500)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)  # the common subset of Python's and PostgreSQL's syntax
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class CheckDigitsParams(FieldParams):
    scheme: Literal["citizen_id", "uscc"]
    # GB 11643's address code against stdnum's GB/T 2260 table for the birth year: off by
    # default, the table lags renamed counties (341324 泗县 is valid only from 1998 there).
    check_region: bool = False


class ReferenceParams(FieldParams):
    dataset: str = Field(pattern=DATASET)  # the dataset whose keys this field holds


class AuthorityParams(FieldParams):
    source: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")  # dataset.field
    via: str = Field(pattern=FIELD)  # this dataset's field holding the source's key


class TimelyParams(Params):
    cycle: Literal["realtime", "daily", "weekly", "monthly", "quarterly", "half_yearly",
                   "yearly", "irregular"]
    working_days: float | None = Field(default=None, ge=0)  # None: never due (irregular)
    working_hours: float | None = Field(default=None, ge=0)


class NoParams(Params):
    pass


class GeomTypeParams(Params):
    type: Literal["point", "line", "polygon"]


class GeomSridParams(Params):
    srid: int = Field(default=4326, ge=1, le=999999)


class InsideCountyParams(Params):
    tolerance_m: float = Field(default=50.0, ge=0, le=10_000)


class OverlapParams(Params):
    min_area_m2: float = Field(default=1.0, ge=0)


class GapParams(Params):
    max_area_m2: float = Field(default=10_000.0, gt=0)


class Gcj02Params(Params):
    sample: int = Field(default=300, ge=10, le=5000)
    # flagged when at least `share` of the points are closer to their nearest road after
    # un-shifting, the median distance after un-shifting is below `ratio` x the median as
    # given, and that is at least `min_gain_m` shorter (dense streets keep shifted points
    # within tens of metres of some road, so the gain is small; the consistency decides)
    share: float = Field(default=0.7, gt=0.5, le=1)
    ratio: float = Field(default=0.6, gt=0, lt=1)
    min_gain_m: float = Field(default=10.0, ge=0)


Mode = Literal["predicate", "column", "group", "join", "dataset"]


@dataclass(frozen=True)
class Kind:
    kind: str
    dimension: str
    name: str
    name_en: str
    params: type[Params]
    mode: Mode

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "dimension": self.dimension, "name": self.name,
                "name_en": self.name_en, "params": self.params.model_json_schema()}


KINDS: dict[str, Kind] = {k.kind: k for k in (
    Kind("required", "completeness", "必填项非空", "Required field present", FieldParams,
         "predicate"),
    Kind("type", "validity", "数据类型", "Data type", TypeParams, "predicate"),
    Kind("range", "validity", "取值范围", "Value range", RangeParams, "predicate"),
    Kind("enum", "validity", "枚举值", "Allowed values", EnumParams, "predicate"),
    Kind("regex", "validity", "格式（正则）", "Format (regular expression)", RegexParams,
         "predicate"),
    Kind("check_digits", "validity", "校验码（身份证号/统一社会信用代码）",
         "Check digits (citizen ID / USCC)", CheckDigitsParams, "column"),
    Kind("unique", "validity", "主键唯一", "Unique key", FieldParams, "group"),
    Kind("reference", "consistency", "引用完整性", "Referential integrity", ReferenceParams,
         "join"),
    Kind("authority", "consistency", "一数一源（与权威来源一致）",
         "Agrees with the authoritative source", AuthorityParams, "join"),
    Kind("timely", "timeliness", "按更新周期更新", "Updated within its cycle", TimelyParams,
         "dataset"),
    Kind("geom_valid", "geometry", "几何有效", "Valid geometry", NoParams, "predicate"),
    Kind("geom_nonempty", "geometry", "几何非空", "Non-empty geometry", NoParams, "predicate"),
    Kind("geom_type", "geometry", "几何类型", "Geometry type", GeomTypeParams, "predicate"),
    Kind("geom_srid", "geometry", "坐标系（SRID）", "Coordinate system (SRID)", GeomSridParams,
         "predicate"),
    Kind("inside_county", "geometry", "位于县域内", "Inside the county", InsideCountyParams,
         "predicate"),
    Kind("no_overlaps", "geometry", "无重叠", "No overlaps", OverlapParams, "group"),
    Kind("no_gaps", "geometry", "无缝隙", "No gaps", GapParams, "group"),
    Kind("gcj02_plausible", "geometry", "坐标未经 GCJ-02 偏移", "Not GCJ-02 shifted",
         Gcj02Params, "group"),
)}


def parse_params(kind: str, params: dict[str, Any]) -> Params:
    """The params of a rule, validated strictly (ValueError: unknown kind or bad params)."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown rule kind {kind!r}; known: {', '.join(KINDS)}")
    return spec.params.model_validate(params)


# -- SQL predicates ----------------------------------------------------------------------------

# Castable text forms (a regex, so that no row can raise a cast error mid-scan).
INTEGER_RE = r"^\s*[-+]?[0-9]+\s*$"
NUMBER_RE = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
DATE_RE = r"^\s*[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\s*$"
DATETIME_RE = (r"^\s*[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3])"
               r":[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?\s*$")
BOOLEAN_RE = r"^\s*(true|false|t|f|1|0|yes|no|是|否)\s*$"  # matched case-insensitively
TYPE_RE = {"integer": INTEGER_RE, "number": NUMBER_RE, "date": DATE_RE,
           "datetime": DATETIME_RE, "boolean": BOOLEAN_RE}
GEOMETRY_TYPES = {"point": ("POINT", "MULTIPOINT"),
                  "line": ("LINESTRING", "MULTILINESTRING"),
                  "polygon": ("POLYGON", "MULTIPOLYGON")}
# The county's polygon grown by the tolerance, computed once per query (an InitPlan).
COUNTY_SQL = ("(SELECT ST_Buffer(ST_Union(geom)::geography, {tol})::geometry FROM county)")


@dataclass(frozen=True)
class Check:
    """How a predicate rule is evaluated: `passes` (TRUE: the row passes; NULL counts as a
    pass), the sample's `value` and `reason` (SQL text expressions)."""

    passes: sql.Composable
    value: sql.Composable
    reason: sql.Composable


def field_text(field: str) -> sql.Composable:
    return sql.SQL("(data->>{})").format(sql.Literal(field))


def _present(v: sql.Composable) -> sql.Composable:
    return sql.SQL("({v} IS NOT NULL AND btrim({v}) <> '')").format(v=v)


def predicate(kind: str, params: Params,
              column: Callable[[str], sql.Composable] = field_text) -> Check:
    """The SQL check of a predicate kind (ValueError for other modes). `column` gives the
    text of a field: `data->>'f'` by default, or a column the caller extracted once."""
    if KINDS[kind].mode != "predicate":
        raise ValueError(f"{kind} is not checked by a row predicate")
    lit = sql.Literal
    if isinstance(params, FieldParams):
        v = column(params.field)
        present = _present(v)
    else:
        v = sql.SQL("ST_AsText(ST_PointOnSurface(geom))")
        present = sql.SQL("(geom IS NOT NULL)")
    if kind == "required":
        return Check(present, v, lit("必填项为空"))
    if kind == "type":
        assert isinstance(params, TypeParams)
        if params.type == "string":
            return Check(sql.SQL("true"), v, lit(""))
        return Check(sql.SQL("(NOT {p} OR {v} ~* {re})").format(
            p=present, v=v, re=lit(TYPE_RE[params.type])), v,
            lit(f"不是有效的{_TYPE_ZH[params.type]}（{params.type}）"))
    if kind == "range":
        assert isinstance(params, RangeParams)
        conds = []
        if params.min is not None:
            conds.append(sql.SQL("({v})::float8 >= {m}").format(v=v, m=lit(params.min)))
        if params.max is not None:
            conds.append(sql.SQL("({v})::float8 <= {m}").format(v=v, m=lit(params.max)))
        inside = sql.SQL(" AND ").join(conds) if conds else sql.SQL("true")
        # Not a number: the type rule's failure, not this one's.
        return Check(sql.SQL("(CASE WHEN {v} ~ {re} THEN {inside} ELSE true END)").format(
            v=v, re=lit(NUMBER_RE), inside=inside), v,
            lit(f"超出取值范围 [{_num(params.min)}, {_num(params.max)}]"))
    if kind == "enum":
        assert isinstance(params, EnumParams)
        return Check(sql.SQL("(NOT {p} OR {v} = ANY ({vals}::text[]))").format(
            p=present, v=v, vals=lit(list(params.values))), v,
            lit("不在允许值之内：" + "、".join(params.values[:10])))
    if kind == "regex":
        assert isinstance(params, RegexParams)
        return Check(sql.SQL("(NOT {p} OR {v} ~ {re})").format(
            p=present, v=v, re=lit(params.pattern)), v, lit(f"格式不符：{params.pattern}"))
    if kind == "geom_valid":
        return Check(sql.SQL("(geom IS NULL OR ST_IsValid(geom))"),
                     sql.SQL("left(ST_AsText(geom), 120)"),
                     sql.SQL("'几何无效：' || ST_IsValidReason(geom)"))
    if kind == "geom_nonempty":
        return Check(sql.SQL("(geom IS NOT NULL AND NOT ST_IsEmpty(geom))"),
                     sql.SQL("coalesce(ST_AsText(geom), '')"), lit("几何为空"))
    if kind == "geom_type":
        assert isinstance(params, GeomTypeParams)
        allowed = list(GEOMETRY_TYPES[params.type])
        return Check(sql.SQL("(geom IS NULL OR ST_IsEmpty(geom) OR GeometryType(geom) = ANY "
                             "({t}::text[]))").format(t=lit(allowed)),
                     sql.SQL("GeometryType(geom)"),
                     lit(f"几何类型应为 {' / '.join(allowed)}"))
    if kind == "geom_srid":
        assert isinstance(params, GeomSridParams)
        return Check(sql.SQL("(geom IS NULL OR ST_SRID(geom) = {s})").format(
            s=lit(params.srid)), sql.SQL("'SRID ' || ST_SRID(geom)"),
            lit(f"坐标系应为 EPSG:{params.srid}"))
    if kind == "inside_county":
        assert isinstance(params, InsideCountyParams)
        county = sql.SQL(COUNTY_SQL).format(tol=lit(params.tolerance_m))
        return Check(sql.SQL("(geom IS NULL OR ST_IsEmpty(geom) OR ST_SRID(geom) <> 4326 "
                             "OR ST_Intersects(geom, {c}))").format(c=county), v,
                     lit(f"位于县域之外（容差 {_num(params.tolerance_m)} 米）"))
    raise ValueError(f"no predicate for {kind}")  # pragma: no cover (KINDS lists them)


_TYPE_ZH = {"integer": "整数", "number": "数值", "date": "日期", "datetime": "日期时间",
            "boolean": "布尔值"}


def _num(value: float | None) -> str:
    if value is None:
        return "∞"
    return str(int(value)) if float(value).is_integer() else str(value)
