"""A small, deterministic population in the test county for the population base's tests: every
grid cell of the first townships gets households on its buildings, with a few cells kept tiny
(under the suppression threshold), elderly people living alone, children, people registered
elsewhere, and moved and deceased persons that current counts must leave out. Valid citizen IDs
(ISO 7064 MOD 11-2 check character from python-stdnum). Written once per session; tests must not
delete these rows (they make their own and remove them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from stdnum.iso7064 import mod_11_2

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰"
TINY_EVERY = 7   # every 7th cell holds only 3 residents: suppressed at k = 5


def citizen_id(region: str, born: date, seq: int, sex: str) -> str:
    """A valid 18-character ID: the sequence's last digit odd for 男, even for 女."""
    seq3 = seq % 500 * 2 + (1 if sex == "男" else 0)
    body = f"{region}{born:%Y%m%d}{seq3 % 1000:03d}"
    return body + mod_11_2.calc_check_digit(body)


@dataclass
class SamplePopulation:
    cells: list[str] = field(default_factory=list)          # grid codes with people
    tiny_cells: list[str] = field(default_factory=list)     # cells with 3 residents
    persons: dict[str, int] = field(default_factory=dict)   # citizen_id -> persons.id
    current_by_cell: dict[str, int] = field(default_factory=dict)
    township: str = ""                                      # the township of cells[0]


def build(conn: sa.Connection, *, townships: int = 2) -> SamplePopulation:
    out = SamplePopulation()
    towns = list(conn.execute(sa.text(
        "SELECT DISTINCT township_code FROM grid_cells ORDER BY 1 LIMIT :n"), {"n": townships}
    ).scalars())
    cells = conn.execute(sa.text("""
SELECT g.grid_code, g.township_code, g.community, ST_X(pt) AS lon, ST_Y(pt) AS lat,
       (SELECT b.id FROM buildings b WHERE ST_Intersects(b.geom, g.geom) ORDER BY b.id LIMIT 1)
FROM grid_cells g, LATERAL ST_PointOnSurface(g.geom) pt
WHERE g.township_code = ANY(:t) ORDER BY g.grid_code"""), {"t": towns}).all()
    out.township = cells[0].township_code
    seq = 0
    for i, c in enumerate(cells):
        tiny = i % TINY_EVERY == TINY_EVERY - 1
        out.cells.append(c.grid_code)
        if tiny:
            out.tiny_cells.append(c.grid_code)
        sizes = [3] if tiny else [4, 3, 1, 5, 2, 4]   # the 1: an elderly person living alone
        current = 0
        for h, size in enumerate(sizes):
            address_id = conn.execute(sa.text("""
INSERT INTO addresses (building_id, grid_code, township_code, community, building_label, unit,
  geom) VALUES (:b, :g, :t, :c, :label, :unit, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
RETURNING id"""), {"b": c[5], "g": c.grid_code, "t": c.township_code, "c": c.community,
                   "label": f"{c.community or '社区'}测试路{i + 1}号楼",
                   "unit": f"{h + 1}单元101室",
                   "x": c.lon, "y": c.lat}).scalar_one()
            household_id = conn.execute(sa.text("""
INSERT INTO households (household_no, address_id, grid_code, township_code)
VALUES (:no, :a, :g, :t) RETURNING id"""), {"no": f"T{c.grid_code[-9:]}{h:02d}", "a": address_id,
                                             "g": c.grid_code, "t": c.township_code}).scalar_one()
            for m in range(size):
                seq += 1
                sex = "男" if seq % 2 else "女"
                alone = size == 1
                year = 1940 + (seq * 7) % 80 if not alone else 1945
                if m >= 2 and not alone:
                    year = 2012 + seq % 10          # children
                born = date(year, 1 + seq % 12, 1 + seq % 28)
                status = "resident"
                if not tiny and m == 1 and h == 5:
                    status = "moved" if i % 2 else "deceased"
                elif not tiny and m == 0 and h == 4:
                    status = "registered_elsewhere"
                region = "320324" if status == "registered_elsewhere" else "341324"
                cid = citizen_id(region, born, seq, sex)
                pid = conn.execute(sa.text("""
INSERT INTO persons (citizen_id, name, sex, birth_date, ethnicity, phone, registered_region,
  registered_address, address_id, household_id, relation, status, grid_code, township_code,
  source_dataset)
VALUES (:cid, :name, :sex, :born, '汉族', :phone, :region, :raddr, :a, :h, :rel, :status, :g, :t,
  'household_population') RETURNING id"""), {
                    "cid": cid, "name": SURNAMES[seq % 20] + GIVEN[seq * 3 % 20] + GIVEN[seq % 20],
                    "sex": sex, "born": born, "phone": f"139{seq:08d}", "region": region,
                    "raddr": "泗县" if region == "341324" else "睢宁县", "a": address_id,
                    "h": household_id, "rel": "户主" if m == 0 else ("配偶" if m == 1 else "子女"),
                    "status": status, "g": c.grid_code, "t": c.township_code}).scalar_one()
                conn.execute(sa.text("""
INSERT INTO person_versions (person_id, version, data, source_dataset, made_by)
SELECT id, 1, to_jsonb(p) - 'id', source_dataset, 'test' FROM persons p WHERE id = :p"""),
                             {"p": pid})
                if m == 0:
                    conn.execute(sa.text("UPDATE households SET head_person_id = :p WHERE id = :h"),
                                 {"p": pid, "h": household_id})
                out.persons[cid] = pid
                current += status in ("resident", "registered_elsewhere")
        out.current_by_cell[c.grid_code] = current
    return out
