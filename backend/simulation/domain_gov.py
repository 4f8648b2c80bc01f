"""政务服务 and 国有经营性资产: the service halls (the county centre, one 便民服务中心 per township,
village 代办点), ~20,000 cases over 60 days with the offices' rhythm and time limits counted in
working days (scenarios/sixian/work_calendar_2026.yaml), and the state's operating assets."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import shapely

from backend.catalog.domain_names import department_names, load_domain_names
from backend.incidents.calendar import WorkCalendar
from backend.settings import Settings
from backend.simulation.domain_places import (
    CITY,
    TZ,
    Context,
    Table,
    firm_names,
    iso,
    villages,
    weighted,
)

CENTRE_TOWN = "341324100"  # 县政务服务中心 (the brief puts it in 泗城镇)
CASE_DAYS = 60
CHANNELS = (["网上", "窗口", "掌上", "自助终端"], [45, 40, 10, 5])
RATINGS = (["非常满意", "满意", "基本满意", "不满意", "非常不满意"], [72, 24, 3.2, 0.6, 0.2])
RATED_SHARE = 0.8
LATE_SHARE = 0.03   # finished after the promised time
WEEKEND_SHARE = 0.12  # a weekend day's cases against a working day's (online, few halls)
# A working day's window hours (share of the day's window cases per hour from 08:00).
WINDOW_HOURS = np.array([0.04, 0.14, 0.16, 0.14, 0.0, 0.0, 0.1, 0.15, 0.16, 0.11])
ONLINE_HOURS = np.array([1, 0.5, 0.3, 0.3, 0.4, 0.8, 2, 4, 6, 7, 7, 6, 4, 4, 6, 6, 6, 5, 4, 5,
                         6, 5, 3, 2], dtype=float)
OFFICE_END = time(17, 30)


def service_halls(ctx: Context) -> Table:
    g = ctx.rng("service_halls")
    towns = ctx.towns
    rows, points = [], []
    centre = towns.points(g, CENTRE_TOWN, 1)[0]
    rows.append({"hall_id": f"ZWDT{CENTRE_TOWN}01", "name": "泗县政务服务中心", "level": "县级",
                 "township_code": CENTRE_TOWN, "windows": 60, "address": "泗县汴河大道（示意）"})
    points.append(centre)
    for t in towns.towns:
        label = "政务服务中心" if t.code.endswith("400") else "便民服务中心"
        rows.append({"hall_id": f"ZWDT{t.code}02", "name": f"{t.short}{label}", "level": "乡镇",
                     "township_code": t.code, "windows": int(g.integers(6, 16)),
                     "address": f"泗县{t.short}（示意）"})
        points.append(towns.points(g, t.code, 1)[0])
    rest = max(0, ctx.n("service_halls", 1 + len(towns.towns)) - len(rows))
    rural = [v for v in villages() if v.township not in CITY]
    for v in (rural[i] for i in sorted(g.choice(len(rural), min(rest, len(rural)),
                                                replace=False))):
        rows.append({"hall_id": f"ZWDT{v.code}", "name": f"{v.name}便民服务代办点",
                     "level": "村（社区）", "township_code": v.township,
                     "windows": int(g.integers(1, 3)), "address": f"泗县{v.name}（示意）"})
        xy = towns.village_points.get(v.code)
        points.append(xy if xy is not None else towns.points(g, v.township, 1)[0])
    return Table("service_halls", rows, [shapely.Point(p) for p in points])


def _workdays(start: date, end: date) -> list[date]:
    calendar = WorkCalendar.load(*Settings.model_fields["work_calendars"].default)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)
            if calendar.is_workday(start + timedelta(days=i))]


def service_cases(ctx: Context) -> Table:
    """Cases received over the last 60 days up to `now`: working days busy in office hours,
    weekends thin and mostly online; due at 17:30 of the item's n-th working day; most finish
    in time, some late, the newest still open (some of them overdue). A day's cases depend on
    the seed and the day alone, so a later `now` adds cases and finishes open ones (the live
    loop's versions) and never redraws the past."""
    halls = ctx.table("service_halls").rows
    now = ctx.now.astimezone(TZ)
    first = now.date() - timedelta(days=CASE_DAYS - 1)
    work = _workdays(first - timedelta(days=5), now.date() + timedelta(days=60))
    per_workday = ctx.n("service_cases", 50) / (CASE_DAYS * (5 + 2 * WEEKEND_SHARE) / 7)
    # halls: the county centre takes ~45 %, the townships' centres ~47 %, the 代办点 the rest
    level = [h["level"] for h in halls]
    hall_w = np.array([45.0 if lv == "县级" else 47.0 / level.count("乡镇") if lv == "乡镇"
                       else 8.0 / level.count("村（社区）") for lv in level])
    workset = set(work)
    rows: list[dict] = []
    for d in (first + timedelta(days=i) for i in range(CASE_DAYS)):
        rows += _day_cases(ctx, d, d in workset, per_workday, hall_w / hall_w.sum(), work)
    return Table("service_cases", rows)


def _day_cases(ctx: Context, d: date, workday: bool, per_workday: float, hall_p: np.ndarray,
               work: list[date]) -> list[dict]:
    g = ctx.rng("service_cases", d.toordinal())
    halls = ctx.table("service_halls").rows
    items = load_domain_names().service_items
    depts = department_names()
    now = ctx.now.astimezone(TZ)
    k = int(g.poisson(per_workday * (1.0 if workday else WEEKEND_SHARE)))
    online = g.random(k) < (0.45 if workday else 0.85)
    web_hour = g.choice(24, k, p=ONLINE_HOURS / ONLINE_HOURS.sum())
    desk_hour = (8 + g.choice(len(WINDOW_HOURS), k, p=WINDOW_HOURS / WINDOW_HOURS.sum())
                 if workday else 9 + g.integers(0, 3, k))  # weekends: the centre's morning
    hour = np.where(online, web_hour, desk_hour)
    # the office opens at 08:30 and closes at 17:30: those half hours shift inside
    second = np.where(~online & (hour == 17), g.integers(0, 1800, k), g.integers(0, 3600, k))
    second = np.where(~online & (hour == 8), 1800 + second // 2, second)
    which = g.choice(len(items), k, p=np.array([i.weight for i in items]) /
                     sum(i.weight for i in items))
    hall = g.choice(len(halls), k, p=hall_p)
    channel = np.where(online, weighted(g, ["网上", "掌上"], [80, 20], k),
                       weighted(g, ["窗口", "自助终端"], [88, 12], k))
    late = g.random(k) < LATE_SHARE
    u = g.beta(1.3, 3.5, k)
    rated = g.random(k) < RATED_SHARE
    rating = weighted(g, *RATINGS, k)
    midnight = datetime.combine(d, time(0), TZ)
    received = [midnight + timedelta(hours=int(h), seconds=int(s))
                for h, s in zip(hour, second, strict=True)]
    rows = []
    for n, j in enumerate(sorted(range(k), key=lambda j: received[j])):
        if received[j] > now:
            break
        item = items[which[j]]
        due = _due(received[j], item.days, work)
        span = (due - received[j]).total_seconds()
        finished = received[j] + timedelta(seconds=float(
            span * (1.1 + 0.5 * u[j]) if late[j] else span * u[j]))
        done = finished <= now
        h = halls[hall[j]]
        rows.append({
            "case_no": f"SX{d:%Y%m%d}{n + 1:05d}", "hall_id": h["hall_id"],
            "township_code": h["township_code"], "item_name": item.name,
            "item_department": depts[item.department], "channel": str(channel[j]),
            "received_at": iso(received[j]), "due_at": iso(due),
            "finished_at": iso(finished) if done else None,
            "rating": rating[j] if done and rated[j] else None})
    return rows


def _due(received: datetime, days: int, work: list[date]) -> datetime:
    """17:30 of the `days`-th working day after the day received."""
    k = int(np.searchsorted(work, received.date(), side="right")) + days - 1
    day = work[min(k, len(work) - 1)]
    return datetime.combine(day, OFFICE_END, TZ)


# -- 国有经营性资产 ------------------------------------------------------------------------

ASSET_CLASSES = (["房屋", "土地", "商铺", "车位", "广告位", "其他"], [28, 14, 32, 12, 9, 5])
# area (m²) and book value (万元 per m²) ranges by class; a 广告位's area is its face
ASSET_SIZE = {"房屋": (80, 3000, 0.25), "土地": (500, 40000, 0.06), "商铺": (20, 400, 0.6),
              "车位": (12, 15, 0.8), "广告位": (10, 120, 0.15), "其他": (50, 2000, 0.1)}
RENT_RATE = {"房屋": 0.012, "土地": 0.0015, "商铺": 0.055, "车位": 0.03, "广告位": 0.04,
             "其他": 0.005}  # 万元 per m² and year
STATUS = (["出租", "自用", "闲置", "出借"], [60, 23, 10, 7])
STREETS = ["汴河大道", "彩虹大道", "运河路", "人民路", "解放路", "虹城大道", "泗城路", "东关大街",
           "南关大街", "西关大街", "清水湾路", "新汴河路"]
BORROWERS = ["泗县老干部活动中心", "泗县妇女联合会", "泗县残疾人联合会", "泗县红十字会",
             "泗县社区卫生服务中心", "泗县关心下一代工作委员会"]


def state_assets(ctx: Context) -> Table:
    g = ctx.rng("state_assets")
    towns = ctx.towns
    n = ctx.n("state_assets", 10)
    town_w = np.array([8.0 if t.code in CITY else 1.0 for t in towns.towns])
    where = g.choice(len(towns.towns), n, p=town_w / town_w.sum())
    cls = weighted(g, *ASSET_CLASSES, n)
    status = weighted(g, *STATUS, n)
    lessees = firm_names(g, n, ["商贸", "餐饮管理", "文化传媒", "物业管理", "超市", "广告",
                                "医药连锁", "教育咨询"])
    now = ctx.now.astimezone(TZ).date()
    rows, points = [], []
    for i in range(n):
        town = towns.towns[where[i]]
        c = cls[i]
        lo, hi, unit = ASSET_SIZE[c]
        area = round(float(np.exp(g.uniform(np.log(lo), np.log(hi)))), 1)
        holder = (f"{town.short}人民政府" if town.code not in CITY and g.random() < 0.6 else
                  weighted(g, ["泗县财政局（县地方金融监督管理局）", "泗县国有资产投资运营有限公司",
                               "泗县城市建设投资有限公司"], [25, 55, 20], 1)[0])
        street = STREETS[int(g.integers(len(STREETS)))] if town.code in CITY else town.short
        name = {"房屋": f"{street}{int(g.integers(1, 300))}号办公用房",
                "土地": f"{town.short}{street if town.code in CITY else ''}国有建设用地",
                "商铺": f"{street}{int(g.integers(1, 300))}号门面房",
                "车位": f"{street}公共停车场{int(g.integers(1, 400))}号车位",
                "广告位": f"{street}户外广告位{int(g.integers(1, 60))}号",
                "其他": f"{town.short}国有仓储用房"}[c]
        value = round(area * unit * float(g.uniform(0.7, 1.4)), 2)
        s = status[i]
        rent = lessee = lease_end = None
        if s == "出租":
            lessee = lessees[i]
            rent = round(area * RENT_RATE[c] * float(g.uniform(0.7, 1.3)), 2)
            ahead = int(g.integers(1, 90)) if g.random() < 0.1 else int(g.integers(90, 1100))
            lease_end = (now + timedelta(days=ahead)).isoformat()
        elif s == "出借":
            lessee = BORROWERS[int(g.integers(len(BORROWERS)))]
            lease_end = (now + timedelta(days=int(g.integers(30, 730)))).isoformat()
        rows.append({"asset_id": f"GZ{town.code}{i + 1:05d}", "name": name, "asset_class": c,
                     "township_code": town.code, "holder_unit": holder, "area_m2": area,
                     "book_value": value, "use_status": s, "lessee": lessee,
                     "annual_rent": rent, "lease_end": lease_end})
        points.append(shapely.Point(towns.points(g, town.code, 1)[0]))
    return Table("state_assets", rows, points)
