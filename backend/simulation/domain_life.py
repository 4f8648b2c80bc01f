"""文化旅游 and 食品安全与物价: the spots and venues (real Sixian places first, names.yaml), their
hourly visitor flow for 30 days up to `now`, events around now, the markets and testing
points, ~9,000 rapid tests over 90 days and the staple prices at the monitoring points."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import numpy as np
import shapely

from backend.catalog.domain_names import load_domain_names
from backend.simulation.domain_places import (
    CITY,
    TZ,
    Context,
    Table,
    hour_floor,
    iso,
    weighted,
)

FLOW_DAYS = 30
# Share of a day's visitors entering in each hour: outdoor spots and parks (morning and
# afternoon peaks, some walkers early and late) and venues (open 9-17, closed Mondays).
OUTDOOR = np.array([0, 0, 0, 0, 0, 0.5, 2, 4, 7, 10, 11, 9, 6, 6, 8, 10, 9, 6, 4, 3, 2, 1,
                    0.5, 0], dtype=float)
VENUE = np.array([0] * 9 + [9, 13, 12, 6, 8, 13, 14, 10, 3] + [0] * 6, dtype=float)
VENUES = ("博物馆", "文化馆", "图书馆")
STAY_HOURS = {"景区": 2.5, "文物保护单位": 1.5, "公园": 1.5, "博物馆": 1.2, "文化馆": 1.5,
              "图书馆": 2.0, "体育场馆": 1.5}


def scenic_spots(ctx: Context) -> Table:
    g = ctx.rng("scenic_spots")
    spots = load_domain_names().scenic_spots[:ctx.n("scenic_spots", 3)]
    rows, points = [], []
    for i, s in enumerate(spots):
        code = f"341324{s.township}"
        rows.append({"spot_id": f"WL{code[-3:]}{i + 1:03d}", "name": s.name, "kind": s.kind,
                     "grade": s.grade, "township_code": code, "capacity": s.capacity})
        points.append(shapely.Point(ctx.towns.points(g, code, 1)[0]))
    return Table("scenic_spots", rows, points)


def visitor_flow(ctx: Context) -> Table:
    """Hourly entries and people inside for each spot, 30 days up to the current hour (its
    entries so far): weekends 1.8x, the venues closed on Mondays, a day-to-day wobble. A day's
    entries depend on the seed, the spot and the day alone (a later `now` only adds)."""
    spots = ctx.table("scenic_spots").rows
    daily = {s.name: s.daily for s in load_domain_names().scenic_spots}
    now = ctx.now.astimezone(TZ)
    end = hour_floor(now)
    hours = [end - timedelta(hours=h) for h in range(FLOW_DAYS * 24 - 1, -1, -1)]
    part = (now - end).total_seconds() / 3600  # the current hour so far
    rows = []
    for i, s in enumerate(spots):
        venue = s["kind"] in VENUES
        shape = (VENUE if venue else OUTDOOR) / (VENUE if venue else OUTDOOR).sum()
        stay = STAY_HOURS.get(s["kind"], 1.5)
        inside = 0.0
        days: dict[object, np.ndarray] = {}
        for h in hours:
            day = h.date()
            if day not in days:
                g = ctx.rng("visitor_flow", i, day.toordinal())
                closed = venue and day.weekday() == 0
                factor = 0.0 if closed else (1.8 if day.weekday() >= 5 else 1.0) * float(
                    g.lognormal(0, 0.15))
                days[day] = g.poisson(daily[s["name"]] * factor * shape)
            entries = int(days[day][h.hour])
            if h == end:
                entries = int(entries * part)
            inside = inside * np.exp(-1 / stay) + entries
            in_park = 0 if shape[h.hour] == 0 and venue else int(round(inside))
            rows.append({"record_id": f"{s['spot_id']}-{h:%Y%m%d%H}", "spot_id": s["spot_id"],
                         "township_code": s["township_code"], "hour": iso(h),
                         "visitors": entries, "in_park": min(in_park, s["capacity"])})
    return Table("visitor_flow", rows)


EVENTS = ["泗州戏经典剧目展演", "非遗进社区·泗州戏专场", "大运河文化主题展", "全民阅读分享会",
          "书画摄影作品展", "广场舞展演", "冬季全民健身长跑", "迎新年音乐会", "运河人家民俗文化节",
          "奇石文化展", "少儿才艺展演", "文化惠民电影放映", "湿地观鸟活动", "送戏下乡",
          "乡村春晚彩排",
          "传统手工技艺展示", "红色文化主题宣讲", "篮球联赛", "象棋公开赛", "摄影采风"]


def cultural_events(ctx: Context) -> Table:
    """Events from 20 days before to 20 days after now; a few today."""
    g = ctx.rng("cultural_events")
    spots = ctx.table("scenic_spots")
    n = ctx.n("cultural_events", 3)
    now = ctx.now.astimezone(TZ)
    today = datetime.combine(now.date(), time(0), TZ)
    rows, points = [], []
    for i in range(n):
        k = int(g.integers(len(spots.rows)))
        spot = spots.rows[k]
        offset = 0 if i < max(1, n // 10) else int(g.integers(-20, 21))
        starts = today + timedelta(days=offset, hours=int(g.choice([9, 10, 14, 15, 19])))
        ends = starts + timedelta(hours=int(g.choice([2, 3, 4, 8])))
        name = EVENTS[int(g.integers(len(EVENTS)))]
        rows.append({"event_id": f"HD{starts:%Y%m%d}{i + 1:03d}", "name": name,
                     "venue": spot["name"], "township_code": spot["township_code"],
                     "starts_at": iso(starts), "ends_at": iso(ends),
                     "expected_visitors": int(g.integers(2, 60)) * 50})
        at = (spots.geoms or [])[k]
        points.append(shapely.Point(ctx.towns.near(g, spot["township_code"], (at.x, at.y), 1,
                                                   0.0008)[0]))
    return Table("cultural_events", rows, points)


# -- 食品安全与物价 ----------------------------------------------------------------------------

CITY_MARKETS = ["泗县城东农贸市场", "泗县城南农贸市场", "泗县城西农贸市场", "汴河农贸市场",
                "虹城农贸市场", "泗水农贸市场"]
SUPERMARKETS = ["泗县百货大楼超市", "运河生活超市", "汴河购物广场超市", "虹乡惠民超市",
                "泗州生鲜超市", "清水湾便民超市", "城南万家超市", "东关连锁超市"]
WHOLESALE = ["泗县农产品批发市场", "泗县蔬菜果品批发市场", "泗县粮油批发市场"]
PRICE_POINTS = 15


def food_markets(ctx: Context) -> Table:
    g = ctx.rng("food_markets")
    towns = ctx.towns
    rural = [t for t in towns.towns if t.code not in CITY and not t.code.endswith("400")]
    city = list(CITY)
    plan: list[tuple[str, str, str]] = []
    plan += [(m, "农贸市场", city[i % len(city)]) for i, m in enumerate(CITY_MARKETS)]
    plan += [(m, "批发市场", city[(i + 1) % len(city)]) for i, m in enumerate(WHOLESALE)]
    plan += [("泗县市场监管局食品快检中心", "快检室", "341324002")]
    plan += [(f"{t.short}农贸市场", "农贸市场", t.code) for t in rural]
    plan += [(m, "超市", city[i % len(city)]) for i, m in enumerate(SUPERMARKETS)]
    plan += [(f"{t.short}市场监管所快检室", "快检室", t.code) for t in rural]
    plan = plan[:ctx.n("food_markets", 6)]
    # price monitoring: the county town's markets and supermarkets first, then the towns'
    monitored = [i for i, p in enumerate(plan) if p[1] in ("农贸市场", "超市", "批发市场")]
    monitored = set(monitored[:max(1, round(PRICE_POINTS * len(plan) / 45))])
    rows, points = [], []
    for i, (name, kind, code) in enumerate(plan):
        rows.append({"market_id": f"SC{code[-3:]}{i + 1:03d}", "name": name, "kind": kind,
                     "township_code": code, "price_monitoring": i in monitored})
        points.append(shapely.Point(towns.points(g, code, 1)[0]))
    return Table("food_markets", rows, points)


SAMPLES = {"蔬菜": (["农药残留"], 35), "水果": (["农药残留"], 12),
           "畜禽肉": (["兽药残留", "瘦肉精"], 18), "水产品": (["兽药残留", "甲醛"], 10),
           "蛋类": (["兽药残留"], 6), "粮油": (["非法添加"], 8),
           "豆制品": (["非法添加", "二氧化硫"], 11)}
TEST_DAYS = 90
FAIL_BASE = 0.012
PESTICIDE_SUMMER = 2.4  # 农药残留 fails this much more often in the warm months


def food_rapid_tests(ctx: Context) -> Table:
    g = ctx.rng("food_rapid_tests")
    markets = ctx.table("food_markets").rows
    weight = np.array([{"快检室": 3.0, "批发市场": 2.5, "农贸市场": 1.2, "超市": 0.6}[m["kind"]]
                       for m in markets])
    n = ctx.n("food_rapid_tests", 20)
    now = ctx.now.astimezone(TZ)
    start = datetime.combine(now.date() - timedelta(days=TEST_DAYS - 1), time(0), TZ)
    day = g.integers(0, TEST_DAYS, n)
    # mornings, when the markets get their goods (05:30-11:30), a few in the afternoon
    minute = np.where(g.random(n) < 0.85, g.integers(330, 690, n), g.integers(840, 1020, n))
    stamps = sorted(start + timedelta(days=int(d), minutes=int(m)) for d, m in
                    zip(day, minute, strict=True))
    stamps = [s for s in stamps if s <= now]
    which = g.choice(len(markets), len(stamps), p=weight / weight.sum())
    kinds = list(SAMPLES)
    sample = weighted(g, kinds, [SAMPLES[k][1] for k in kinds], len(stamps))
    rows = []
    for i, at in enumerate(stamps):
        items = SAMPLES[sample[i]][0]
        item = items[int(g.integers(len(items)))]
        warm = at.month in (5, 6, 7, 8, 9, 10)
        p = FAIL_BASE * (PESTICIDE_SUMMER if item == "农药残留" and warm else 1.0)
        m = markets[which[i]]
        rows.append({"test_id": f"KJ{at:%Y%m%d}{i + 1:05d}", "market_id": m["market_id"],
                     "township_code": m["township_code"], "tested_at": iso(at),
                     "sample": sample[i], "item": item,
                     "result": "不合格" if g.random() < p else "合格"})
    return Table("food_rapid_tests", rows)


# 元/公斤 (食用油 元/升): December levels in a county of northern Anhui, and the day-to-day
# volatility of each (vegetables move most).
STAPLES = {"大米": (5.6, 0.002), "面粉": (4.6, 0.002), "食用油": (15.8, 0.003),
           "猪肉": (26.0, 0.008), "牛肉": (76.0, 0.004), "鸡蛋": (10.2, 0.01),
           "白菜": (2.4, 0.025), "土豆": (4.0, 0.015), "西红柿": (6.6, 0.02), "苹果": (8.2, 0.008)}
PRICE_DAYS = 30


def staple_prices(ctx: Context) -> Table:
    """Each monitoring point's daily price of the ten staples for 30 days: a county-wide random
    walk per commodity (slow drift) plus the point's own level and a little daily noise."""
    g = ctx.rng("staple_prices")
    points = [m for m in ctx.table("food_markets").rows if m["price_monitoring"]]
    today = ctx.now.astimezone(TZ).date()
    days = [today - timedelta(days=d) for d in range(PRICE_DAYS - 1, -1, -1)]
    rows = []
    code = {c: f"{i:02d}" for i, c in enumerate(STAPLES)}
    walks = {c: base * np.exp(np.cumsum(g.normal(0.0003, vol, PRICE_DAYS)))
             for c, (base, vol) in STAPLES.items()}
    for m in points:
        level = {c: float(g.normal(1.0, 0.03)) for c in STAPLES}
        for i, d in enumerate(days):
            for c in STAPLES:
                price = walks[c][i] * level[c] * float(g.normal(1.0, 0.006))
                rows.append({"record_id": f"{m['market_id']}-{d:%Y%m%d}-{code[c]}",
                             "market_id": m["market_id"], "township_code": m["township_code"],
                             "observed_on": d.isoformat(), "commodity": c,
                             "unit": "元/升" if c == "食用油" else "元/公斤",
                             "price": round(float(price), 2)})
    return Table("staple_prices", rows)
