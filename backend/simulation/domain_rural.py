"""农村土地确权流转, 气象 and the command centre's duty roster: the land rights of the real
villages (confirmed <= contracted) and their transfers (never more than a village's confirmed
land), the current weather of every township at `now` with 0-3 warnings in force, and the
day and night shifts of 30 days around now."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

import numpy as np
import shapely

from backend.simulation.domain_places import (
    CITY,
    TZ,
    Context,
    Table,
    firm_names,
    hour_floor,
    iso,
    people,
    phones,
    villages,
    weighted,
)


def village_land_rights(ctx: Context) -> Table:
    g = ctx.rng("village_land_rights")
    every = villages()  # all 195 at scale 1 (content.yaml's 190 is the rough size)
    chosen = every[:max(3, round(len(every) * min(1.0, ctx.scale)))]
    rows, points = [], []
    for v in chosen:
        urban = v.township in CITY[:3]  # the 街道's 社区: little farmland left
        households = int(g.integers(20, 180) if urban else g.integers(450, 1300))
        per = float(g.uniform(5.5, 8.5)) * (0.4 if urban else 1.0)
        contracted = round(households * per, 1)
        confirmed = round(contracted * float(min(1.0, g.normal(0.982, 0.008))), 1)
        certificates = int(round(households * float(min(1.0, g.normal(0.975, 0.012)))))
        rows.append({"village_code": v.code, "village_name": v.name,
                     "township_code": v.township, "contracting_households": households,
                     "contracted_area_mu": contracted, "confirmed_area_mu": confirmed,
                     "certificates_issued": certificates})
        xy = ctx.towns.village_points.get(v.code)
        points.append(shapely.Point(xy if xy is not None else
                                    ctx.towns.points(g, v.township, 1)[0]))
    return Table("village_land_rights", rows, points)


TRANSFEREES = (["农户", "家庭农场", "农民专业合作社", "企业", "其他"], [22, 30, 30, 14, 4])
AREA_MU = {"农户": (2, 30), "家庭农场": (50, 300), "农民专业合作社": (60, 600),
           "企业": (100, 1000), "其他": (10, 100)}
MODES = (["出租", "转包", "入股", "互换", "其他"], [66, 14, 8, 7, 5])
CROPS = ["粮食", "蔬菜", "瓜果", "山芋", "中药材", "苗木", "食用菌"]
TRANSFER_SHARE = 0.6  # at most this share of a village's confirmed land is transferred


def land_transfers(ctx: Context) -> Table:
    g = ctx.rng("land_transfers")
    rights = [r for r in ctx.table("village_land_rights").rows
              if r["township_code"] not in CITY[:3]] or ctx.table("village_land_rights").rows
    n = ctx.n("land_transfers", 5)
    kinds = weighted(g, *TRANSFEREES, n)
    modes = weighted(g, *MODES, n)
    names = people(g, 2 * n)
    firms = firm_names(g, max(4, n // 10), ["农业科技", "生态农业", "农业发展"])
    left = {r["village_code"]: r["confirmed_area_mu"] * TRANSFER_SHARE for r in rights}
    today = ctx.now.astimezone(TZ).date()
    rows = []
    for i in range(n):
        r = rights[int(g.integers(len(rights)))]
        if left[r["village_code"]] < 1:  # this village has transferred what it may
            open_ = [v for v in rights if left[v["village_code"]] >= 1]
            if not open_:
                break
            r = open_[int(g.integers(len(open_)))]
        k = kinds[i]
        lo, hi = AREA_MU[k]
        area = max(1.0, round(min(float(np.exp(g.uniform(np.log(lo), np.log(hi)))),
                                  left[r["village_code"]] - 0.05), 1))
        left[r["village_code"]] -= area
        vname = r["village_name"].removesuffix("村").removesuffix("社区")
        transferee = {"农户": names[n + i],
                      "家庭农场": f"泗县{names[n + i]}家庭农场",
                      "农民专业合作社": f"泗县{vname}{CROPS[i % len(CROPS)]}种植专业合作社",
                      "企业": firms[int(g.integers(len(firms)))],
                      "其他": f"{vname}村股份经济合作社"}[k]
        signed = today - timedelta(days=int(g.integers(1, 6 * 365)))
        rows.append({"transfer_id": f"LZ{r['village_code']}{signed:%Y}{i + 1:05d}",
                     "village_code": r["village_code"], "township_code": r["township_code"],
                     "transferor": names[i], "transferee": transferee, "transferee_kind": k,
                     "mode": modes[i], "area_mu": area,
                     "term_years": int(g.choice([3, 5, 5, 8, 10, 10, 15])),
                     "price_per_mu": (None if modes[i] == "互换"
                                      else float(round(g.uniform(600, 1000) / 10) * 10)),
                     "signed_on": signed.isoformat()})
    return Table("land_transfers", rows)


# -- 气象 --------------------------------------------------------------------------------------

# December's weather in northern Anhui: (phenomenon, weight, humidity range)
SKIES = [("晴", 34, (35, 60)), ("多云", 30, (45, 70)), ("阴", 18, (55, 80)),
         ("雾", 8, (88, 99)), ("霾", 5, (70, 90)), ("小雨", 4, (80, 95)), ("雪", 1, (85, 98))]
WINDS = ["北", "东北", "东", "东南", "南", "西南", "西", "西北"]
WARNINGS = [("大雾", "黄色", "雾",
             "预计未来12小时内{town}将出现能见度小于500米的浓雾，局部小于200米的强浓雾"),
            ("大雾", "橙色", "雾", "预计未来6小时内{town}将出现能见度小于200米的强浓雾"),
            ("道路结冰", "黄色", "阴", "预计未来12小时内{town}将出现对交通有影响的道路结冰"),
            ("寒潮", "蓝色", "多云",
             "预计未来48小时内{town}最低气温将下降8℃以上，最低气温小于等于4℃"),
            ("大风", "蓝色", "晴", "预计未来24小时内{town}可能受大风影响，平均风力可达6级以上"),
            ("霾", "黄色", "霾", "预计未来24小时内{town}将出现能见度小于3000米的霾")]


def _weather_day(ctx: Context) -> tuple[np.random.Generator, int, list[int]]:
    """The day's draw (the same for weather and warnings at one `now`): the sky, and the
    warnings in force (indices of WARNINGS, 0-3 of them, none most days)."""
    hour = hour_floor(ctx.now)
    g = np.random.default_rng([ctx.seed, int(hour.strftime("%Y%m%d"))])
    sky = int(g.choice(len(SKIES), p=np.array([s[1] for s in SKIES]) / 100))
    k = int(g.choice(4, p=[0.25, 0.4, 0.25, 0.1]))
    fits = [i for i, w in enumerate(WARNINGS) if w[2] == SKIES[sky][0]] or [3, 4]
    return g, sky, [fits[j % len(fits)] for j in range(k)]


def weather_conditions(ctx: Context) -> Table:
    """One observation per township at `now` rounded down to the hour: a county-wide sky and
    a diurnal temperature (coldest near 06:00, warmest near 14:00), township noise."""
    g, sky, _ = _weather_day(ctx)
    at = hour_floor(ctx.now)
    low, high = float(g.uniform(-3, 2)), float(g.uniform(6, 11))
    phase = np.cos((at.hour - 14) / 24 * 2 * np.pi)  # 1 at 14:00, -1 at 02:00
    base = (low + high) / 2 + (high - low) / 2 * phase
    wind = WINDS[int(g.integers(len(WINDS)))]
    level = int(g.integers(1, 5))
    aqi = int(g.integers(40, 120) if SKIES[sky][0] != "霾" else g.integers(150, 230))
    hum_lo, hum_hi = SKIES[sky][2]
    rows = []
    for t in ctx.towns.towns:
        rows.append({"record_id": f"QX{t.code}{at:%Y%m%d%H}", "township_code": t.code,
                     "observed_at": iso(at), "weather": SKIES[sky][0],
                     "temperature": round(float(base) + float(g.normal(0, 0.6)), 1),
                     "humidity": round(float(g.uniform(hum_lo, hum_hi))),
                     "wind_direction": wind if level else "静风",
                     "wind_level": max(0, level + int(g.integers(-1, 2))),
                     "aqi": max(0, aqi + int(g.integers(-8, 9)))})
    return Table("weather_conditions", rows)


def weather_warnings(ctx: Context) -> Table:
    """0-3 warnings in force at `now`, each for one township (its polygon), issued by 泗县气象台
    in the hours before."""
    g, _, chosen = _weather_day(ctx)
    at = hour_floor(ctx.now)
    towns = ctx.towns.towns
    picked = g.choice(len(towns), size=len(chosen), replace=False) if chosen else []
    rows, geoms = [], []
    for j, (w, t) in enumerate(zip(chosen, picked, strict=True)):
        kind, level, _, text = WARNINGS[w]
        town = towns[int(t)]
        issued = at - timedelta(hours=int(g.integers(1, 6)), minutes=int(g.integers(0, 60)))
        expires = at + timedelta(hours=int(g.integers(6, 24)))
        rows.append({"warning_id": f"YJ{issued:%Y%m%d%H%M}{town.code[-3:]}{j + 1}",
                     "kind": kind, "level": level, "township_code": town.code,
                     "issued_at": iso(issued), "expires_at": iso(expires),
                     "text": f"泗县气象台{issued:%Y年%m月%d日%H时%M分}发布{kind}{level}预警信号："
                             f"{text.format(town=town.short)}，请注意防范。（示意）"})
        geoms.append(town.geom)
    return Table("weather_warnings", rows, geoms)


# -- 值班 --------------------------------------------------------------------------------------

DUTY_DAYS = 30
UNITS = ["泗县数据资源管理局", "县城市管理局", "泗县应急管理局", "泗县公安局", "县住房和城乡建设局",
         "县交通运输局", "泗县人民政府办公室"]
SHIFTS = ((time(8, 30), time(17, 30), "D"), (time(17, 30), time(8, 30), "N"))


def duty_roster(ctx: Context) -> Table:
    """Day (08:30-17:30) and night (17:30-08:30) shifts from 15 days before to 15 days after
    now: a 带班领导, a 值班长 and two 值班员 each, in rotation."""
    g = ctx.rng("duty_roster")
    pools: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for post, size in (("带班领导", 7), ("值班长", 9), ("值班员", 18)):
        for name, tel in zip(people(g, size), phones(g, size), strict=True):
            pools[post].append((name, tel, UNITS[int(g.integers(len(UNITS)))]))
    first = ctx.now.astimezone(TZ).date() - timedelta(days=DUTY_DAYS // 2)
    rows = []
    slot = 0
    for d in range(DUTY_DAYS):
        day = first + timedelta(days=d)
        for start, end, tag in SHIFTS:
            starts = datetime.combine(day, start, TZ)
            ends = datetime.combine(day + timedelta(days=1 if tag == "N" else 0), end, TZ)
            crew = [("带班领导", pools["带班领导"][slot % 7]),
                    ("值班长", pools["值班长"][slot % 9]),
                    ("值班员", pools["值班员"][(2 * slot) % 18]),
                    ("值班员", pools["值班员"][(2 * slot + 1) % 18])]
            for k, (post, (name, tel, unit)) in enumerate(crew):
                rows.append({"shift_id": f"ZB{day:%Y%m%d}{tag}{k + 1}", "post": post,
                             "name": name, "phone": tel, "unit": unit,
                             "starts_at": iso(starts), "ends_at": iso(ends)})
            slot += 1
    return Table("duty_roster", rows)
