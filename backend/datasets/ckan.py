"""The catalog as CKAN's Action API sees it (read actions only): packages, organizations,
groups (the classification's classes), tags, status. Pure answers over a connection, no
fastapi; backend.datasets.ckan_router wraps them in CKAN's envelope.

A package is a dataset record (name = id); its organization the provider department (name =
the code in lower case); its groups its class; its tags its keywords; its resources what a
client can fetch: the catalog record (JSON), the rows (CSV, GeoJSON) or the map layer (MVT,
PNG for imagery). `open_only`: anonymous callers see the open datasets only.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from backend.catalog.layers import CYCLE_ZH, SHARE_ZH
from backend.datasets import search as svc
from backend.datasets.codes import CLASSES
from backend.datasets.models import datasets
from backend.errors import InvalidInput, NotFound

MAX_ROWS = 1000
FQ_TERM = re.compile(r'([+-]?)([a-z_]+):(?:"([^"]*)"|(\S+))')
FQ_FIELDS = {"organization", "res_format", "tags", "groups", "share_type", "update_cycle"}
EXTRAS = ("resource_code", "class_code", "item_code", "entry_code", "detail_code",
          "resource_format", "share_type", "share_condition", "share_method", "open_type",
          "update_cycle", "published_on", "storage", "layer_id", "geometry_type", "key_field",
          "annex_no", "synthetic")


def group_name(class_code: str) -> str:
    return f"class-{class_code}"


def group_dict(class_code: str, count: int | None = None) -> dict[str, Any]:
    zh, en = CLASSES[class_code]
    out: dict[str, Any] = {"id": group_name(class_code), "name": group_name(class_code),
                           "title": zh, "display_name": zh, "title_en": en,
                           "description": f"政务信息资源分类 · 类 {class_code}：{zh} ({en})",
                           "type": "group", "state": "active", "is_organization": False,
                           "approval_status": "approved", "image_url": ""}
    if count is not None:
        out["package_count"] = count
    return out


def org_dict(dept: dict[str, Any]) -> dict[str, Any]:
    return {"id": dept["code"], "name": dept["code"].lower(), "title": dept["name"],
            "display_name": dept["name"], "title_en": dept.get("name_en"),
            "description": f"{dept['name']}（{dept.get('short_name') or dept['code']}）",
            "type": "organization", "is_organization": True, "state": "active",
            "approval_status": "approved", "image_url": "",
            "package_count": dept.get("datasets", 0)}


def resources_of(d: dict[str, Any], base: str) -> list[dict[str, Any]]:
    pid = d["id"]
    res = [{"id": f"{pid}-metadata", "name": "目录元数据 · Catalog record", "format": "JSON",
            "url": f"{base}/api/datasets/{pid}", "mimetype": "application/json"}]
    if d["storage"] == "rows":
        res.append({"id": f"{pid}-csv", "name": "数据下载 · Download (CSV)", "format": "CSV",
                    "url": f"{base}/api/datasets/{pid}/download?format=csv",
                    "mimetype": "text/csv"})
        if d["geometry_type"]:
            res.append({"id": f"{pid}-geojson", "name": "数据下载 · Download (GeoJSON)",
                        "format": "GeoJSON", "url": f"{base}/api/datasets/{pid}/download"
                        "?format=geojson", "mimetype": "application/geo+json"})
    elif d["storage"] == "layer":
        fmt = "MVT" if d["geometry_type"] else "PNG"
        res.append({"id": f"{pid}-layer", "name": "地图图层 · Map layer", "format": fmt,
                    "url": f"{base}/tiles/{d['layer_id']}.json", "mimetype": "application/json"})
    for i, r in enumerate(res):
        r.update(package_id=pid, position=i, state="active", description=r["name"])
    return res


# res_format -> which records have a resource of that format
FORMAT_CONDITIONS = {
    "json": sa.true(),
    "csv": datasets.c.storage == "rows",
    "geojson": sa.and_(datasets.c.storage == "rows", datasets.c.geometry_type.isnot(None)),
    "mvt": sa.and_(datasets.c.storage == "layer", datasets.c.geometry_type.isnot(None)),
    "png": sa.and_(datasets.c.storage == "layer", datasets.c.geometry_type.is_(None)),
}


def package_dict(d: dict[str, Any], base: str) -> dict[str, Any]:
    """A CKAN package of a dataset (get_dataset's dict)."""
    resources = resources_of(d, base)
    tags = [{"name": k, "display_name": k, "state": "active", "vocabulary_id": None}
            for k in d["keywords"]]
    extras = [{"key": k, "value": "" if d.get(k) is None else str(d[k])} for k in EXTRAS]
    extras.append({"key": "share_type_zh", "value": SHARE_ZH[d["share_type"]]})
    extras.append({"key": "update_cycle_zh", "value": CYCLE_ZH[d["update_cycle"]]})
    return {
        "id": d["id"], "name": d["id"], "title": d["name"], "title_en": d["name_en"],
        "notes": d["summary"], "type": "dataset", "state": "active", "private": False,
        "license_id": "notspecified", "license_title": "未指定 · Not specified",
        "author": d["department_name"], "maintainer": d["department_name"],
        "url": f"{base}/api/datasets/{d['id']}", "version": str(d["current_seq"] or ""),
        "metadata_created": d["published_on"].isoformat() if d["published_on"] else None,
        "metadata_modified": (d["last_updated_at"].isoformat() if d["last_updated_at"]
                              else None),
        "owner_org": d["department_code"],
        "organization": org_dict({"code": d["department_code"], "name": d["department_name"]}),
        "groups": [group_dict(d["class_code"])] if d["class_code"] else [],
        "tags": tags, "num_tags": len(tags), "resources": resources,
        "num_resources": len(resources), "extras": extras,
        "synthetic": d["synthetic"], "fields": d["fields"],
    }


def parse_fq(fq: str) -> dict[str, list[str]]:
    """`organization:GAJ res_format:"CSV" +tags:人口` -> {field: [values]}; anything else is
    refused (CKAN answers a bad query with a 409 Search Query Error)."""
    terms: dict[str, list[str]] = {}
    rest = FQ_TERM.sub(" ", fq).strip()
    if rest:
        raise InvalidInput(f"fq: cannot read {rest[:40]!r}; use field:value terms with fields "
                           f"{', '.join(sorted(FQ_FIELDS))}")
    for sign, field, quoted, bare in FQ_TERM.findall(fq):
        if sign == "-":
            raise InvalidInput("fq: negated terms (-field:value) are not supported")
        if field not in FQ_FIELDS:
            raise InvalidInput(f"fq: unknown field {field!r}; use "
                               f"{', '.join(sorted(FQ_FIELDS))}")
        terms.setdefault(field, []).append(quoted if quoted else bare)
    return terms


def _filters(q: str, fq: str, open_only: bool) -> tuple[svc.Filters, list[Any]]:
    q = q.strip()
    terms = parse_fq(fq)
    if ":" in q and q != "*:*":  # a q in field:value form is a filter too
        for field, values in parse_fq(q).items():
            terms.setdefault(field, []).extend(values)
        q = ""
    extra: list[Any] = []
    for fmt in terms.pop("res_format", []):
        cond = FORMAT_CONDITIONS.get(fmt.lower())
        if cond is None:
            raise InvalidInput(f"res_format must be one of {', '.join(FORMAT_CONDITIONS)}")
        extra.append(cond)
    single: dict[str, str] = {}
    for field, values in terms.items():
        if len(set(values)) > 1:
            raise InvalidInput(f"fq: {field} given twice with different values")
        single[field] = values[0]
    group = single.get("groups")
    if group is not None and group.removeprefix("class-") not in CLASSES:
        raise InvalidInput(f"groups must be one of {', '.join(map(group_name, CLASSES))}")
    return svc.Filters(
        q=None if q in ("", "*:*") else q,
        department=single["organization"].upper() if "organization" in single else None,
        class_code=group.removeprefix("class-") if group else None,
        share_type=single.get("share_type"), update_cycle=single.get("update_cycle"),
        tag=single.get("tags"), open_only=open_only), extra


def package_search(conn: sa.Connection, *, q: str, fq: str, rows: int, start: int,
                   open_only: bool, base: str) -> dict[str, Any]:
    if not 0 <= rows <= MAX_ROWS:
        raise InvalidInput(f"rows must be between 0 and {MAX_ROWS}")
    if start < 0:
        raise InvalidInput("start must be 0 or more")
    f, extra = _filters(q, fq, open_only)
    total, items = svc.search(conn, f, limit=max(rows, 1), offset=start, extra=extra,
                              max_limit=MAX_ROWS, min_q=1)
    found = svc.get_datasets(conn, [i["id"] for i in items[:rows]], open_only=open_only)
    results = [package_dict(d, base) for d in found]
    return {"count": total, "results": results, "sort": "score desc, metadata_modified desc",
            "facets": {}, "search_facets": {}}


def package_show(conn: sa.Connection, name: str, *, open_only: bool, base: str
                 ) -> dict[str, Any]:
    return package_dict(svc.get_dataset(conn, name, open_only=open_only), base)


def package_list(conn: sa.Connection, *, open_only: bool, limit: int | None,
                 offset: int) -> list[str]:
    stmt = sa.select(datasets.c.id).order_by(datasets.c.id).offset(offset)
    if open_only:
        stmt = stmt.where(datasets.c.open_type == "open")
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(conn.execute(stmt).scalars())


def organization_list(conn: sa.Connection, *, all_fields: bool, open_only: bool
                      ) -> list[Any]:
    orgs = [org_dict(d) for d in svc.department_list(conn, open_only=open_only)]
    return orgs if all_fields else [o["name"] for o in orgs]


def organization_show(conn: sa.Connection, org: str, *, open_only: bool) -> dict[str, Any]:
    for d in svc.department_list(conn, open_only=open_only):
        if d["code"].lower() == org.lower():
            return org_dict(d)
    raise NotFound(f"No organization {org!r}")


def group_list(conn: sa.Connection, *, all_fields: bool, open_only: bool) -> list[Any]:
    stmt = sa.select(datasets.c.class_code, sa.func.count()).group_by(datasets.c.class_code)
    if open_only:
        stmt = stmt.where(datasets.c.open_type == "open")
    counts = dict(conn.execute(stmt).all())
    groups = [group_dict(c, counts.get(c, 0)) for c in CLASSES]
    return groups if all_fields else [g["name"] for g in groups]


def tag_list(conn: sa.Connection, *, query: str | None, all_fields: bool,
             open_only: bool) -> list[Any]:
    tag = sa.func.unnest(datasets.c.keywords).label("tag")
    inner = sa.select(tag)
    if open_only:
        inner = inner.where(datasets.c.open_type == "open")
    sub = inner.subquery()
    stmt = sa.select(sub.c.tag).distinct().order_by(sub.c.tag)
    if query:
        stmt = stmt.where(sub.c.tag.contains(query, autoescape=True))
    names = list(conn.execute(stmt).scalars())
    if all_fields:
        return [{"id": n, "name": n, "display_name": n, "vocabulary_id": None} for n in names]
    return names
