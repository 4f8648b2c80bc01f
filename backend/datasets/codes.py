"""Resource codes (信息资源代码) of the catalog, after 政务信息资源目录编制指南 (DOMAIN.md §10).

The guide's code is a front part, the classification (类 / 项 / 目 / 细目), and a back part,
the provider and a sequence. This project writes it as

    C II EEE DDD - PROVIDER - SSSS        e.g. 1 01 005 002-GAJ-0007  (spaces for reading only)

- `C`    类 (class_code): 1 基础信息资源, 2 主题信息资源, 3 部门信息资源.
- `CII`  项 (item_code): the class's item, two digits (CLASSES below; for class 3 the item is
         the provider department's position in the catalog, 01..).
- `CIIEEE` 目 (entry_code): the provider department's position, three digits, so that one
         department's resources of an item sit together.
- `CIIEEEDDD` 细目 (detail_code): the resource's sequence within that 目, three digits.
- `PROVIDER` the department's code (departments.code), `SSSS` the resource's sequence within
  its department (annex order, then the platform's own layers by id).

class_code / item_code / entry_code / detail_code are stored cumulatively (each includes the
one above), so filtering by any level is a prefix or an equality. The codes are this project's
(示意/synthetic), not the county's registered codes. Unique by construction: detail_code is
unique per (item, department) sequence, and the back part per department.
"""

from __future__ import annotations

from dataclasses import dataclass

# class -> item -> (zh, en, words that put a dataset name there; first match wins, class 1
# before class 2; no match: class 3, the provider's own item)
CLASSES: dict[str, tuple[str, str]] = {
    "1": ("基础信息资源", "Base information resources"),
    "2": ("主题信息资源", "Thematic information resources"),
    "3": ("部门信息资源", "Department information resources"),
}
ITEMS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("101", "人口基础信息", "Population", ("人口", "户籍", "居民", "学籍", "人员", "幼儿", "患者",
                                          "驾驶员", "教师", "职工", "老人", "残疾", "婚姻", "出生",
                                          "死亡", "低保", "党员")),
    ("102", "法人单位基础信息", "Legal entities", ("企业", "法人", "单位", "纳税人", "社会团体",
                                                  "社会组织", "个体工商户", "商户")),
    ("103", "自然资源和空间地理", "Natural resources and geography",
     ("地形", "影像", "地籍", "土地", "管线", "测绘", "地图", "规划", "林地", "耕地", "河道",
      "一标三实", "宗地", "坐标")),
    ("104", "社会信用信息", "Social credit", ("信用", "失信", "黑名单", "诚信")),
    ("105", "电子证照信息", "Electronic licences", ("许可", "证照", "执照", "证书", "资质")),
    ("201", "公共安全", "Public safety", ("治安", "应急", "消防", "监控", "事故", "安全", "犯罪")),
    ("202", "生态环境", "Ecology and environment", ("环境", "污染", "排放", "气象", "空气", "水质",
                                                    "垃圾")),
    ("203", "交通运输", "Transport", ("交通", "公交", "道路", "公路", "车辆", "客运", "货运")),
    ("204", "社会保障", "Social security", ("养老", "救助", "医保", "社保", "参保", "就业", "失业",
                                            "福利", "优抚")),
    ("205", "卫生健康", "Health", ("医院", "卫生", "健康", "疾病", "疫苗", "医疗")),
    ("206", "教育文化", "Education and culture", ("学校", "教育", "文化", "旅游", "体育", "文物")),
    ("207", "经济运行", "Economy", ("经济", "投资", "项目", "价格", "统计", "生产总值", "财政",
                                    "税",
                                    "预算", "金融")),
]


@dataclass(frozen=True, slots=True)
class ResourceCode:
    class_code: str
    item_code: str
    entry_code: str
    detail_code: str
    resource_code: str


def item_of(name: str, department_position: int) -> str:
    """The 项 (cumulative item code) a dataset named `name` falls under."""
    for code, _zh, _en, words in ITEMS:
        if any(w in name for w in words):
            return code
    return f"3{department_position:02d}"


def item_name(item_code: str) -> tuple[str, str]:
    for code, zh, en, _ in ITEMS:
        if code == item_code:
            return zh, en
    return "部门信息资源", "Department resources"


class CodeBook:
    """Hands out codes in a fixed order (the caller's order makes them deterministic)."""

    def __init__(self) -> None:
        self._detail: dict[str, int] = {}
        self._dept: dict[str, int] = {}

    def next(self, name: str, department: str, department_position: int) -> ResourceCode:
        item = item_of(name, department_position)
        entry = f"{item}{department_position:03d}"
        self._detail[entry] = self._detail.get(entry, 0) + 1
        self._dept[department] = self._dept.get(department, 0) + 1
        detail = f"{entry}{self._detail[entry]:03d}"
        return ResourceCode(item[0], item, entry, detail,
                            f"{detail}-{department}-{self._dept[department]:04d}")
