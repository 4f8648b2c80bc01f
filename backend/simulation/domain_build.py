"""商品房, 征迁安置 and 重点项目: housing projects and their buildings (units total >= presold >=
sold >= registered), expropriation projects (rectangles in and near the county town) whose
signed / vacated / demolished figures are the counts of their households by stage, and the key
projects' investment and progress."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import shapely

from backend.catalog.domain_names import department_names, load_domain_names
from backend.simulation.domain_places import (
    CITY,
    TZ,
    Context,
    Table,
    firm_names,
    people,
    phones,
    weighted,
)

# -- 商品房 ----------------------------------------------------------------------------------

HOUSING_TOWNS = (list(CITY) + ["341324400", "341324101", "341324103", "341324105",
                               "341324112"], [20, 20, 20, 22, 6, 3, 3, 3, 3])
PRICE = {True: (6300, 8400), False: (4500, 5600)}  # 元/㎡: the county town, the towns
PRICE_TOP_TOWN = "341324100"  # 泗城镇: the highest (the brief's; the city core)


def housing_projects(ctx: Context) -> Table:
    g = ctx.rng("housing_projects")
    names = load_domain_names().housing_projects
    n = min(ctx.n("housing_projects", 3), len(names))
    where = weighted(g, *HOUSING_TOWNS, n)
    developers = firm_names(g, max(4, n // 2), ["置业", "房地产开发", "建设发展"], prefix="安徽")
    rows, points = [], []
    for i in range(n):
        town = ctx.towns[where[i]]
        rows.append({"project_id": f"SP{town.code[-3:]}{i + 1:04d}", "name": names[i],
                     "developer": developers[int(g.integers(len(developers)))],
                     "township_code": town.code, "address": f"泗县{town.short}（示意）"})
        points.append(shapely.Point(ctx.towns.points(g, town.code, 1)[0]))
    return Table("housing_projects", rows, points)


def housing_buildings(ctx: Context) -> Table:
    g = ctx.rng("housing_buildings")
    projects = ctx.table("housing_projects")
    per = max(1, round(ctx.n("housing_buildings", len(projects.rows)) / len(projects.rows)))
    today = ctx.now.astimezone(TZ).date()
    rows, points = [], []
    seq = 0
    for p, at in zip(projects.rows, projects.geoms or [], strict=True):
        code = p["township_code"]
        lo, hi = PRICE[code in CITY]
        base = float(g.uniform(lo, hi)) + (400 if code == PRICE_TOP_TOWN else 0)
        launched = today - timedelta(days=int(g.integers(60, 1500)))
        k = max(1, int(g.integers(max(1, per - 4), per + 5)))
        for b in range(k):
            floors = int(g.choice([6, 11, 18, 26, 33]))
            total = floors * int(g.choice([2, 3, 4]))
            permit = launched + timedelta(days=int(b * g.integers(20, 90)))
            if permit > today:  # not yet permitted: nothing sold
                rows.append(_building(p, b, code, None, None, total, 0, 0, 0, None))
            else:
                seq += 1
                age = (today - permit).days
                presold = round(total * min(1.0, float(g.uniform(0.6, 1.0))))
                sold = round(presold * min(1.0, age / 720 + float(g.uniform(0.05, 0.3))))
                registered = round(sold * min(1.0, age / 900 + float(g.uniform(0.0, 0.2))))
                price = round(base * float(g.uniform(0.95, 1.06)), 0) if sold else None
                number = f"泗房预售证第{permit.year}{seq:03d}号"
                rows.append(_building(p, b, code, number, permit.isoformat(), total, presold,
                                      sold, registered, price))
            points.append(shapely.Point(ctx.towns.near(g, code, (at.x, at.y), 1, 0.002)[0]))
    return Table("housing_buildings", rows, points)


def _building(p: dict, b: int, code: str, permit: str | None, on: str | None, total: int,
              presold: int, sold: int, registered: int, price: float | None) -> dict:
    return {"building_id": f"{p['project_id']}-{b + 1:02d}", "project_id": p["project_id"],
            "building_no": f"{b + 1}#", "township_code": code, "presale_permit": permit,
            "permit_date": on, "units_total": total, "units_presold": presold,
            "units_sold": sold, "units_registered": registered, "avg_price": price}


# -- 征迁安置 --------------------------------------------------------------------------------

RELOCATION_TOWNS = (list(CITY) + ["341324400"], [25, 25, 20, 22, 8])
STAGES = ["未签约", "已签约", "已腾空", "已拆除"]


def relocation_projects(ctx: Context) -> Table:
    """Projects with their households' counts: built from relocation_households' stages."""
    households = ctx.table("relocation_households")
    base = ctx.built["_relocation_areas"]  # made with the households
    rows = []
    for r in base.rows:
        mine = [h for h in households.rows if h["project_id"] == r["project_id"]]
        signed = sum(h["stage"] != "未签约" for h in mine)
        vacated = sum(h["stage"] in ("已腾空", "已拆除") for h in mine)
        demolished = sum(h["stage"] == "已拆除" for h in mine)
        swap = sum(h["compensation"] == "产权调换" for h in mine)
        planned = round(swap * 1.15)
        own = {k: v for k, v in r.items() if not k.startswith("_")}
        rows.append({**own, "households_total": len(mine), "households_signed": signed,
                     "households_vacated": vacated, "households_demolished": demolished,
                     "resettlement_units_planned": planned,
                     "resettlement_units_delivered": round(planned * r["_delivered"])})
    return Table("relocation_projects", rows, base.geoms)


def _areas(ctx: Context) -> Table:
    """The projects' rectangles (inside their township, not overlapping) and dates."""
    g = ctx.rng("relocation_projects")
    names = load_domain_names().relocation_projects
    n = min(ctx.n("relocation_projects", 2), len(names))
    where = weighted(g, *RELOCATION_TOWNS, n)
    today = ctx.now.astimezone(TZ).date()
    rows, geoms = [], []
    for i in range(n):
        town = ctx.towns[where[i]]
        for _ in range(200):
            c = ctx.towns.points(g, town.code, 1)[0]
            w, h = g.uniform(0.0012, 0.004, 2)
            rect = shapely.box(c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)
            if town.geom.contains(rect) and not any(rect.intersects(o) for o in geoms):
                break
        started = today - timedelta(days=int(g.integers(30, 1100)))
        rows.append({"project_id": f"ZQ{town.code[-3:]}{i + 1:03d}", "name": names[i],
                     "township_code": town.code, "started_on": started.isoformat(),
                     "_delivered": min(1.0, (today - started).days / 1400)})
        geoms.append(rect)
    return Table("_relocation_areas", rows, geoms)


def relocation_households(ctx: Context) -> Table:
    g = ctx.rng("relocation_households")
    if "_relocation_areas" not in ctx.built:
        ctx.built["_relocation_areas"] = _areas(ctx)
    areas = ctx.built["_relocation_areas"]
    total = ctx.n("relocation_households", 2 * len(areas.rows))
    share = g.dirichlet(np.full(len(areas.rows), 3.0))
    sizes = np.maximum(1, np.round(share * total)).astype(int)
    today = ctx.now.astimezone(TZ).date()
    rows, points = [], []
    for p, rect, k in zip(areas.rows, areas.geoms or [], sizes, strict=True):
        started = date.fromisoformat(p["started_on"])
        age = (today - started).days
        # the older the project, the further along: signed, then vacated, then demolished
        signed = min(1.0, age / 240 + float(g.uniform(0.0, 0.15)))
        vacated = signed * min(1.0, age / 420)
        demolished = vacated * min(1.0, age / 600)
        u = g.random(k)
        stage = np.where(u < demolished, 3, np.where(u < vacated, 2, np.where(u < signed, 1, 0)))
        heads = people(g, k)
        tel = phones(g, k)
        xy = shapely.get_coordinates(shapely.points(
            g.uniform(rect.bounds[0], rect.bounds[2], k), g.uniform(rect.bounds[1],
                                                                    rect.bounds[3], k)))
        for j in range(k):
            s = int(stage[j])
            on = (started + timedelta(days=int(g.integers(0, max(1, age))))) if s else None
            rows.append({"household_id": f"{p['project_id']}-{j + 1:04d}",
                         "project_id": p["project_id"], "township_code": p["township_code"],
                         "head_name": heads[j], "phone": tel[j],
                         "floor_area_m2": round(float(g.uniform(45, 260)), 1),
                         "stage": STAGES[s], "signed_on": on.isoformat() if on else None,
                         "compensation": (("产权调换" if g.random() < 0.6 else "货币补偿")
                                          if s else None)})
            points.append(shapely.Point(xy[j]))
    return Table("relocation_households", rows, points)


# -- 重点项目 --------------------------------------------------------------------------------

CATEGORIES = (["工业", "基础设施", "社会事业", "城市建设", "农业农村", "生态环保"],
              [30, 20, 14, 16, 12, 8])
TEMPLATES = {
    "工业": ["年产{n}万套汽车零部件项目", "年产{n}万吨新型建材项目", "智能家电产业园{k}期",
             "纺织服装产业园标准化厂房{k}期", "年产{n}万件电子元器件项目", "食品精深加工项目"],
    "基础设施": ["G104泗县段改建工程", "S306泗县段提升工程", "新汴河航道整治工程",
                 "泗县东站综合交通枢纽", "{town}农村公路提质改造", "城区供水管网改造{k}期"],
    "社会事业": ["泗县人民医院新院区", "泗县第{k}中学新建工程", "{town}中心学校扩建",
                 "县妇幼保健院迁建", "{town}养老服务中心", "县职教中心实训基地"],
    "城市建设": ["{street}提升改造", "老旧小区改造（{k}期）", "城区雨污分流改造{k}期",
                 "运河文化街区建设", "城区停车场建设{k}期", "海绵城市建设{k}期"],
    "农业农村": ["{town}高标准农田建设项目", "{town}设施蔬菜基地", "{town}农产品冷链物流中心",
                 "{town}美丽乡村建设", "{town}粮食烘干中心"],
    "生态环保": ["{town}污水处理厂扩建", "石龙湖湿地保护修复", "新汴河水环境综合治理",
                 "{town}垃圾中转站建设", "城区黑臭水体整治{k}期"],
}
STATUSES = (["未开工", "正常推进", "滞后", "已竣工"], [8, 70, 10, 12])
STREETS = ["汴河大道", "彩虹大道", "运河路", "虹城大道", "泗城路", "清水湾路"]
OWNERS = {"工业": ["TZCJ", "JXJ"], "基础设施": ["JYJ", "ZJJ", "SLJ"],
          "社会事业": ["WJW", "JTJ", "MZJ"], "城市建设": ["ZJJ", "CGJ"], "农业农村": ["NYJ"],
          "生态环保": ["STHJ", "SLJ", "CGJ"]}


def key_projects(ctx: Context) -> Table:
    g = ctx.rng("key_projects")
    depts = department_names()
    n = ctx.n("key_projects", 6)
    cats = weighted(g, *CATEGORIES, n)
    status = weighted(g, *STATUSES, n)
    today = ctx.now.astimezone(TZ).date()
    year_gone = (today - date(today.year, 1, 1)).days / 365
    rows, points, seen = [], [], set()
    for i in range(n):
        c = cats[i]
        town = ctx.towns.towns[int(g.integers(len(ctx.towns.towns)))]
        if c in ("城市建设", "社会事业") and g.random() < 0.7:
            town = ctx.towns[CITY[int(g.integers(len(CITY)))]]
        name = str(g.choice(TEMPLATES[c])).format(
            n=int(g.integers(2, 50)) * 10, k=int(g.integers(1, 4)), town=town.short,
            street=STREETS[int(g.integers(len(STREETS)))])
        if name in seen:
            name = f"{name}（{town.short}）" if f"{name}（{town.short}）" not in seen else \
                f"{name}（{i + 1}）"
        seen.add(name)
        total = round(float(np.exp(g.uniform(np.log(3000), np.log(300000)))), 0)
        year_plan = round(total * float(g.uniform(0.15, 0.45)), 0)
        s = status[i]
        started = today - timedelta(days=int(g.integers(60, 900)))
        end = started + timedelta(days=int(g.integers(365, 1100)))
        delay = None
        if s == "未开工":
            progress, done = 0.0, 0.0
            started = today + timedelta(days=int(g.integers(10, 120)))
            end = started + timedelta(days=int(g.integers(365, 900)))
        elif s == "已竣工":
            progress, done = 100.0, round(year_plan * float(g.uniform(0.95, 1.05)), 0)
            end = today - timedelta(days=int(g.integers(5, 200)))
            started = min(started, end - timedelta(days=200))
        else:
            pace = year_gone * (float(g.uniform(0.55, 0.8)) if s == "滞后" else
                                float(g.uniform(0.9, 1.12)))
            done = round(year_plan * pace, 0)
            span = max(1, (end - started).days)
            progress = round(min(99.0, 100 * (today - started).days / span *
                                 (0.7 if s == "滞后" else 1.0)), 1)
            if s == "滞后":
                delay = int(g.integers(15, 180))
        dept = OWNERS[c][int(g.integers(len(OWNERS[c])))]
        owner = (f"{town.short}人民政府" if c == "农业农村" and g.random() < 0.5
                 else depts[dept])
        rows.append({"project_id": f"ZD{today.year}{i + 1:04d}", "name": name, "category": c,
                     "township_code": town.code, "owner_unit": owner,
                     "planned_investment": total, "year_plan": year_plan,
                     "year_completed": done, "progress_pct": max(0.0, progress), "status": s,
                     "delay_days": delay, "started_on": started.isoformat(),
                     "planned_end": end.isoformat(), "photo": None})
        points.append(shapely.Point(ctx.towns.points(g, town.code, 1)[0]))
    return Table("key_projects", rows, points)
