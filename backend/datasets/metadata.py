"""The catalog's records, generated deterministically (示意/synthetic) from the annex, the
content declarations and the layer catalog: the core metadata of 政务信息资源目录编制指南 for
each of the 323 annex entries, plus the platform's own layers under the data bureau.

- Metadata-only entries: id `sx` + annex_no (sx042), storage 'metadata', every value drawn
  from a random generator seeded by the annex_no (the same catalog at every start).
- Content datasets (content.yaml): their id, fields, key, geometry, share type, cycle, open
  attribute and English name from the file; storage 'rows'.
- Layers that are annex entries: id = layer id, storage 'layer', fields from the layer.
- The other layers: the data bureau's (SJJ) own datasets, annex_no null, storage 'layer',
  synthetic as the layer says (the real county boundary is not).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from backend.catalog.data_catalog import AnnexRow, ContentDataset, DataCatalog
from backend.catalog.layers import CYCLE_ZH, SHARE_ZH, LayerCatalog, LayerSpec
from backend.datasets.codes import CodeBook, item_name

PEOPLE_WORDS = ("人员", "人口", "学籍", "患者", "驾驶员", "幼儿", "教师", "职工", "居民", "户籍",
                "残疾", "低保", "老人", "党员", "婚姻", "出生", "死亡", "就业", "失业", "参保人",
                "护照", "出入境", "驾驶证", "驾证", "学员", "住宿", "乘客", "运动员", "律师",
                "社工", "志愿者", "医生", "病历", "健康档案", "慢性病", "捐献", "扶贫人员",
                "农民工")
COMPANY_WORDS = ("企业", "法人", "单位", "纳税人", "商户", "个体工商户", "社会组织", "社会团体")
FINANCE_WORDS = ("财政", "金融", "税", "银行", "资金", "预算", "贷款", "审计")
SECRET_WORDS = ("信访", "涉密", "案件", "侦查", "审计", "犯罪", "吸毒", "社区矫正", "嫌疑人",
                "在押", "戒毒", "服刑", "帮教", "器官", "稽查")
GEO_WORDS = ("地图", "影像", "地形", "地籍", "管线", "坐标", "点位", "分布", "规划", "土地", "宗地")
REALTIME_WORDS = ("实时", "监控", "实测", "GPS", "在线")
LAWS = ("《中华人民共和国个人信息保护法》", "《中华人民共和国保守国家秘密法》",
        "《信访工作条例》", "《中华人民共和国数据安全法》")
CONDITIONS = {"unconditional": None,
              "conditional": ("仅限履行法定职责所需，经数据资源管理局审核、提供部门同意后"
                              "共享（示意）"),
              "none": "依据《信访工作条例》，涉及个人隐私，不予共享（示意）"}
# (name, name_zh, data_type, kind)
PEOPLE_FIELDS = [("name", "姓名", "string", "name"),
                 ("citizen_id", "公民身份号码", "string", "id_number"),
                 ("gender", "性别", "string", None), ("birth_date", "出生日期", "date", None),
                 ("phone", "联系电话", "string", "phone"), ("address", "住址", "string", "address"),
                 ("township", "所属乡镇", "string", None),
                 ("registered_on", "登记日期", "date", None)]
COMPANY_FIELDS = [("uscc", "统一社会信用代码", "string", None),
                  ("org_name", "单位名称", "string", None),
                  ("legal_representative", "法定代表人", "string", "name"),
                  ("address", "注册地址", "string", None),
                  ("registered_on", "登记日期", "date", None), ("industry", "行业", "string", None),
                  ("status", "经营状态", "string", None), ("phone", "联系电话", "string", None)]
GENERIC_FIELDS = [("title", "名称", "string", None), ("code", "编号", "string", None),
                  ("recorded_on", "日期", "date", None), ("township", "所属乡镇", "string", None),
                  ("category", "类别", "string", None), ("quantity", "数量", "number", None),
                  ("status", "状态", "string", None), ("unit", "责任单位", "string", None),
                  ("remark", "备注", "string", None)]


@dataclass
class FieldRecord:
    name: str
    name_zh: str
    data_type: str
    description: str | None = None
    required: bool = False
    kind: str | None = None
    authority: str | None = None
    link: str | None = None


@dataclass
class DatasetRecord:
    """One row of `datasets` as the catalog declares it (the version pointer is not here)."""

    values: dict[str, Any]
    fields: list[FieldRecord] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.values["id"]


def _has(name: str, words: tuple[str, ...]) -> bool:
    return any(w in name for w in words)


def _generic_fields(name: str, rng: random.Random) -> list[FieldRecord]:
    if _has(name, PEOPLE_WORDS):
        pool, first = PEOPLE_FIELDS, 2
    elif _has(name, COMPANY_WORDS):
        pool, first = COMPANY_FIELDS, 2
    else:
        pool, first = GENERIC_FIELDS, 2
    count = rng.randint(3, min(8, len(pool)))
    rest = rng.sample(pool[first:], count - first)
    chosen = pool[:first] + sorted(rest, key=pool.index)
    return [FieldRecord(n, zh, t, f"{zh}（示意）", i < first, k)
            for i, (n, zh, t, k) in enumerate(chosen)]


def _share(name: str, rng: random.Random) -> tuple[str, str | None]:
    roll = rng.random()
    sensitive = _has(name, PEOPLE_WORDS) or _has(name, FINANCE_WORDS)
    if _has(name, SECRET_WORDS) or roll < 0.04:
        law = LAWS[rng.randrange(len(LAWS))]
        return "none", f"依据{law}，涉及个人隐私或国家秘密，不予共享（示意）"
    if sensitive and roll < 0.9 or roll < 0.2:
        return "conditional", CONDITIONS["conditional"]
    return "unconditional", None


def _cycle(name: str, rng: random.Random) -> str:
    if _has(name, REALTIME_WORDS):
        return "realtime"
    return rng.choices(list(CYCLE_ZH)[1:],
                       weights=[10, 6, 20, 12, 6, 20, 26])[0]


def _format(name: str, geometry: str | None) -> str:
    if "影像" in name or "照片" in name:
        return "图形图像"
    if "视频" in name or "监控" in name:
        return "流媒体"
    if geometry or _has(name, GEO_WORDS):
        return "地理信息"
    return "数据库" if _has(name, PEOPLE_WORDS + COMPANY_WORDS) else "电子表格"


def _keywords(name: str, dept_short: str, item_code: str, share_type: str) -> list[str]:
    core = name
    for tail in ("信息表", "信息", "数据表", "数据", "表"):
        if core.endswith(tail) and len(core) > len(tail) + 1:
            core = core[: -len(tail)]
            break
    words = [core, dept_short, item_name(item_code)[0], SHARE_ZH[share_type]]
    return list(dict.fromkeys(w for w in words if w))


def _summary(dept_name: str, name: str, fields: list[FieldRecord], cycle: str) -> str:
    items = "、".join(f.name_zh for f in fields[:5])
    return (f"{dept_name}掌握的{name}，包括{items}等信息项，{CYCLE_ZH[cycle]}更新"
            f"（示意：元数据由目录生成器生成）。")


def _layer_fields(spec: LayerSpec) -> list[FieldRecord]:
    out = [FieldRecord(f.name, f.zh, "string", f.en, False, f.kind.value if f.kind else None)
           for f in spec.fields]
    if spec.geometry:
        out.append(FieldRecord("geom", "空间位置", "geometry", spec.geometry, True))
    return out


def _content_fields(d: ContentDataset) -> list[FieldRecord]:
    out = []
    for f in d.fields:
        desc = None
        if f.values:
            desc = "取值：" + "、".join(str(v) for v in f.values)
        elif f.range:
            desc = f"范围：{f.range[0]:g}～{f.range[1]:g}"
        out.append(FieldRecord(f.name, f.zh, f.type, desc, f.required or f.name == d.key,
                               f.kind.value if f.kind else None, f.authority, f.link))
    if d.geometry:
        out.append(FieldRecord("geom", "空间位置", "geometry", d.geometry, True))
    return out


def build_records(data: DataCatalog, layers: LayerCatalog) -> list[DatasetRecord]:
    """Every dataset record of the catalog, in a fixed order (codes depend on it)."""
    depts = {d.code: d for d in data.departments}
    position = {d.code: i for i, d in enumerate(data.departments, start=1)}
    position[data.bureau.code] = len(data.departments) + 1
    content = {data.content_rows[d.id]: d for d in data.content if d.id in data.content_rows}
    layer_of = {no: layers[layer_id] for layer_id, no in data.layer_rows.items()
                if layer_id in layers}
    codes = CodeBook()
    records: list[DatasetRecord] = []
    by_dept: dict[str, list[DatasetRecord]] = {}
    for row in data.annex:
        dept = depts[row.department]
        rec = _annex_record(row, dept.name, dept.annex, content.get(row.annex_no),
                            layer_of.get(row.annex_no))
        if row.annex_no in data.summaries:  # its data is the population base (issue 13)
            rec.values["summary"] = data.summaries[row.annex_no]
        code = codes.next(row.name, row.department, position[row.department])
        rec.values.update(class_code=code.class_code, item_code=code.item_code,
                          entry_code=code.entry_code, detail_code=code.detail_code,
                          resource_code=code.resource_code)
        rec.values["keywords"] = _keywords(row.name, dept.annex, code.item_code,
                                           rec.values["share_type"])
        records.append(rec)
        by_dept.setdefault(row.department, []).append(rec)
    listed = set(data.layer_rows)
    bureau = data.bureau
    # A `dataset` layer draws a content dataset: that dataset is its record, not a platform one.
    own = (s for s in layers.layers if s.id not in listed and s.kind != "dataset")
    for spec in sorted(own, key=lambda s: s.id):
        rec = _platform_record(spec, bureau.name)
        code = codes.next(spec.title.zh, bureau.code, position[bureau.code])
        rec.values.update(class_code=code.class_code, item_code=code.item_code,
                          entry_code=code.entry_code, detail_code=code.detail_code,
                          resource_code=code.resource_code, department_code=bureau.code)
        rec.values["keywords"] = _keywords(spec.title.zh, "数据资源管理局", code.item_code,
                                           rec.values["share_type"])
        records.append(rec)
        by_dept.setdefault(bureau.code, []).append(rec)
    names = {d.code: d.name for d in data.departments} | {bureau.code: bureau.name}
    for d in (d for d in data.content if d.annex is None):  # datasets the annex lacks
        assert d.department is not None and d.name is not None
        rec = _outside_annex_record(d, names[d.department])
        code = codes.next(d.name, d.department, position[d.department])
        rec.values.update(class_code=code.class_code, item_code=code.item_code,
                          entry_code=code.entry_code, detail_code=code.detail_code,
                          resource_code=code.resource_code)
        rec.values["keywords"] = _keywords(d.name, names[d.department], code.item_code,
                                           d.share_type)
        records.append(rec)
        by_dept.setdefault(d.department, []).append(rec)
    for recs in by_dept.values():  # related: a few resources of the same department
        for rec in recs:
            rng = random.Random(f"related:{rec.id}")
            others = [r.values["resource_code"] for r in recs if r is not rec]
            rec.values["related"] = sorted(rng.sample(others, min(len(others), rng.randint(0, 3))))
    return records


def _annex_record(row: AnnexRow, dept_name: str, dept_short: str,
                  content: ContentDataset | None, layer: LayerSpec | None) -> DatasetRecord:
    rng = random.Random(row.annex_no)
    share_type, condition = _share(row.name, rng)
    cycle = _cycle(row.name, rng)
    v: dict[str, Any] = {
        "id": f"sx{row.annex_no:03d}", "annex_no": row.annex_no, "name": row.name,
        "name_en": None, "department_code": row.department, "share_type": share_type,
        "share_condition": condition, "update_cycle": cycle, "storage": "metadata",
        "layer_id": None, "geometry_type": None, "key_field": None, "coverage": False,
        "synthetic": True, "published_on": date(2020, rng.randint(1, 12), rng.randint(1, 28)),
    }
    fields = _generic_fields(row.name, rng)
    if content is not None:
        fields = _content_fields(content)
        share_type = content.share_type
        v.update(id=content.id, name_en=content.en, share_type=share_type,
                 update_cycle=content.update_cycle, storage="rows",
                 geometry_type=content.geometry, key_field=content.key,
                 coverage=content.coverage)
        if share_type != _share(row.name, random.Random(row.annex_no))[0]:
            v["share_condition"] = CONDITIONS[share_type]
    elif layer is not None:
        fields = _layer_fields(layer)
        v.update(id=layer.id, name_en=layer.title.en, storage="layer", layer_id=layer.id,
                 geometry_type=layer.geometry)
        if layer.update_cycle:
            v["update_cycle"] = layer.update_cycle
        if layer.share_type:
            v["share_type"] = layer.share_type
    open_roll = rng.random()
    if content is not None:
        open_type = "open" if content.open else "closed"
    elif layer is not None:
        open_type = "open" if layer.is_public else "closed"
    elif v["share_type"] == "unconditional":
        open_type = "open" if open_roll < 0.5 else "conditional"
    else:
        open_type = "closed"
    method = ("接口" if _has(row.name, PEOPLE_WORDS) or v["update_cycle"] == "realtime"
              else rng.choice(["库表", "文件", "接口"]))
    v.update(open_type=open_type, share_method=method,
             resource_format=_format(row.name, v["geometry_type"]),
             summary=_summary(dept_name, row.name, fields, v["update_cycle"]))
    return DatasetRecord(v, fields)


def _outside_annex_record(d: ContentDataset, dept_name: str) -> DatasetRecord:
    """A content dataset the annex has no row for (issue 14: the domain datasets)."""
    assert d.name is not None and d.department is not None
    fields = _content_fields(d)
    v: dict[str, Any] = {
        "id": d.id, "annex_no": None, "name": d.name, "name_en": d.en,
        "department_code": d.department, "share_type": d.share_type,
        "share_condition": {"unconditional": None, "conditional": CONDITIONS["conditional"]}.get(
            d.share_type, "指挥中心内部工作信息，不予共享（示意）"),
        "share_method": "接口" if d.update_cycle == "realtime" else "文件",
        "update_cycle": d.update_cycle, "storage": "rows", "layer_id": None,
        "geometry_type": d.geometry, "key_field": d.key, "coverage": d.coverage,
        "synthetic": True, "open_type": "open" if d.open else "closed",
        "resource_format": _format(d.name, d.geometry),
        "published_on": date(2026, 12, 1),
        "summary": _summary(dept_name, d.name, fields, d.update_cycle),
    }
    return DatasetRecord(v, fields)


def _platform_record(spec: LayerSpec, bureau_name: str) -> DatasetRecord:
    fields = _layer_fields(spec)
    cycle = spec.update_cycle or ("realtime" if spec.kind == "live" else "irregular")
    share = spec.share_type or "unconditional"
    summary = (spec.description.zh if spec.description else spec.title.zh) + \
        f"。{bureau_name}平台数据，地图图层 {spec.id}。"
    v: dict[str, Any] = {
        "id": spec.id, "annex_no": None, "name": spec.title.zh, "name_en": spec.title.en,
        "summary": summary, "share_type": share,
        "share_condition": None if share == "unconditional" else "经审核同意后共享",
        "share_method": "接口", "update_cycle": cycle, "storage": "layer", "layer_id": spec.id,
        "geometry_type": spec.geometry, "key_field": None, "coverage": False,
        "synthetic": spec.synthetic, "open_type": "open" if spec.is_public else "closed",
        "resource_format": _format(spec.title.zh, spec.geometry or "raster"),
        "published_on": date(2020, 12, 31),
    }
    return DatasetRecord(v, fields)
