"""A situation as one standalone HTML file: the map drawn by deck.gl from pydeck's JSON, the
KPI cards, charts and open cases as HTML beside it.

Offline by construction: pydeck's own `to_html(offline=True)` inlines the deck.gl bundle that
ships in its wheel, but its template still links CDN stylesheets and a mapbox-gl script; so the
file is built here from `Deck.to_json()` and that same bundle (read from the installed package)
in a template of our own, with no basemap provider (the county and townships are drawn as
GeoJSON layers instead of tiles). Every text is HTML-escaped; the JSON in the script is made
safe for a <script> element (no "</" sequence can end it early)."""

from __future__ import annotations

import html
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import pydeck

from backend.incidents.flow import STATE_NAMES
from backend.snapshots.gather import LayerPart, Situation

STATUS_COLORS = {"alarm": [239, 83, 80, 255], "offline": [120, 130, 140, 200],
                 "normal": [102, 187, 106, 255]}
URGENT = [255, 82, 82, 255]
CASE = [255, 167, 38, 255]
VEHICLES = {"zh": "车辆", "en": "Vehicles"}
CASES = {"zh": "在办案件", "en": "Open cases"}
CENTER = {"zh": "泗县城市运行管理中心 · 态势快照",
          "en": "Sixian City Operations Center · situation snapshot"}


@lru_cache(maxsize=1)
def deck_bundle() -> str:
    """pydeck's bundled deck.gl (the @deck.gl/jupyter-widget build that defines createDeck)."""
    path = Path(pydeck.__file__).parent / "nbextension" / "static" / "index.js"
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


def _script_json(value: Any) -> str:
    return orjson.dumps(value).decode().replace("<", "\\u003c").replace("\u2028", "\\u2028") \
        .replace("\u2029", "\\u2029")


def _rgb(color: str, alpha: int) -> list[int]:
    return [int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16), alpha]


def _t(title: Any, lang: str) -> str:
    """A bilingual text: the chosen language first, the other one smaller."""
    zh, en = (title["zh"], title["en"]) if isinstance(title, dict) else (title.zh, title.en)
    first, second = (zh, en) if lang == "zh" else (en, zh)
    if first == second:
        return html.escape(first)
    return f"{html.escape(first)} <small>{html.escape(second)}</small>"


def _data_layer(part: LayerPart) -> pydeck.Layer:
    return pydeck.Layer(
        "GeoJsonLayer", {"type": "FeatureCollection", "features": part.features},
        id=f"layer-{part.id}", pickable=True, stroked=True, filled=part.geometry != "line",
        get_fill_color=_rgb(part.color, 150 if part.geometry == "point" else 90),
        get_line_color=_rgb(part.color, 230), line_width_min_pixels=1,
        point_radius_min_pixels=4, get_point_radius=30)


def deck_json(s: Situation) -> str:
    layers = [
        pydeck.Layer("GeoJsonLayer", s.townships, id="townships", stroked=True, filled=True,
                     get_fill_color=[30, 60, 90, 60], get_line_color=[126, 156, 184, 200],
                     line_width_min_pixels=1, pickable=True),
        pydeck.Layer("GeoJsonLayer", s.county, id="county", stroked=True, filled=False,
                     get_line_color=[180, 210, 240, 255], line_width_min_pixels=2),
        *[_data_layer(p) for p in s.layers],
    ]
    if s.cases:
        cases = [{**c, "color": URGENT if c.get("urgency") == "urgent" else CASE}
                 for c in s.cases if c.get("lon") is not None]
        layers.append(pydeck.Layer(
            "ScatterplotLayer", cases, id="cases", pickable=True, get_position=["lon", "lat"],
            get_fill_color="color", get_line_color=[255, 255, 255, 255], stroked=True,
            line_width_min_pixels=1, get_radius=60, radius_min_pixels=5))
    if s.vehicles:
        vehicles = [{**v, "color": STATUS_COLORS.get(v.get("status") or "", CASE)}
                    for v in s.vehicles]
        layers.append(pydeck.Layer(
            "ScatterplotLayer", vehicles, id="vehicles", pickable=True,
            get_position=["lon", "lat"], get_fill_color="color", get_radius=40,
            radius_min_pixels=3))
    w, south, e, n = s.bbox
    view = pydeck.ViewState(longitude=(w + e) / 2, latitude=(south + n) / 2, zoom=s.zoom)
    deck = pydeck.Deck(layers=layers, initial_view_state=view, map_provider=None,
                       map_style=None, tooltip=True)
    return deck.to_json()


def _number(value: float | None, decimals: int) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.{max(0, min(decimals, 6))}f}"


def _card(spec: dict[str, Any], card: dict[str, Any] | None, lang: str) -> str:
    decimals = int(spec.get("decimals") or 0)
    if card is None or not card.get("available"):
        reason = (card or {}).get("reason") or ("无数据" if lang == "zh" else "no data")
        body = f'<div class="value na">—</div><div class="meta">{html.escape(reason)}</div>'
        return f'<div class="card na" data-card="{html.escape(spec["id"])}">' \
               f'<div class="name">{_t(spec["title"], lang)}</div>{body}</div>'
    unit = _t(spec["unit"], lang) if spec.get("unit") else ""
    lines = []
    if card.get("reference") is not None and spec.get("reference"):
        label = _t(spec["reference"]["label"], lang)
        change = card.get("change_pct")
        arrow = {"up": "▲", "down": "▼", "flat": "＝"}.get(card.get("direction") or "", "")
        pct = f" {arrow} {change:+.1f}%" if change is not None else ""
        lines.append(f"{label}: {_number(card['reference'], decimals)}{pct}")
    if card.get("as_of"):
        lines.append(("截至 " if lang == "zh" else "as of ") + html.escape(card["as_of"]))
    if card.get("filtered") is False and card.get("as_of") is not None:
        lines.append("全县口径" if lang == "zh" else "county-wide")
    level = card.get("level") or ""
    stale = " stale" if card.get("stale") else ""
    return (f'<div class="card {html.escape(level)}{stale}" data-card="{html.escape(spec["id"])}">'
            f'<div class="name">{_t(spec["title"], lang)}</div>'
            f'<div class="value">{_number(card.get("value"), decimals)} '
            f'<span class="unit">{unit}</span></div>'
            f'<div class="meta">{"<br>".join(lines)}</div></div>')


def _chart(spec: dict[str, Any], chart: dict[str, Any], lang: str) -> str:
    rows = chart.get("rows") or []
    if not chart.get("available") or not rows:
        return ""
    top = max((abs(r.get("value") or 0) for r in rows), default=0) or 1
    bars = "".join(
        f'<tr><td>{html.escape(str(r.get("label")))}</td><td class="bar">'
        f'<span style="width:{abs(r.get("value") or 0) / top * 100:.1f}%"></span></td>'
        f'<td class="num">{_number(r.get("value"), 1)}</td></tr>' for r in rows[:24])
    return f'<h3>{_t(spec["title"], lang)}</h3><table class="chart">{bars}</table>'


def _state(state: object, lang: str) -> str:
    names = STATE_NAMES.get(str(state))
    return names[lang] if names else str(state or "")


def _cases(s: Situation) -> str:
    if s.cases is None:
        return ""
    head = f'<h3>{_t(CASES, s.lang)} <b>{s.cases_total}</b></h3>'
    rows = "".join(
        f'<tr class="{"urgent" if c.get("urgency") == "urgent" else ""}">'
        f'<td>{html.escape(str(c.get("case_no") or c.get("id")))}</td>'
        f'<td>{html.escape(str(c.get("category_name") or ""))}</td>'
        f'<td>{html.escape(_state(c.get("state"), s.lang))}</td>'
        f'<td>{html.escape(str(c.get("township_name") or ""))}</td></tr>'
        for c in s.cases[:60])
    return f'{head}<table class="cases">{rows}</table>'


def _legend(s: Situation) -> str:
    items = [f'<li><i style="background:{p.color}"></i>{_t(p.title, s.lang)} '
             f'<b data-layer="{html.escape(p.id)}">{len(p.features)}</b></li>' for p in s.layers]
    for key, rows, color, title in (("vehicles", s.vehicles, "#66bb6a", VEHICLES),
                                    ("cases", s.cases, "#ffa726", CASES)):
        if rows is not None:
            items.append(f'<li><i style="background:{color}"></i>{_t(title, s.lang)} '
                         f'<b data-layer="{key}">{len(rows)}</b></li>')
    return f'<ul class="legend">{"".join(items)}</ul>'


STYLE = """
html,body{margin:0;height:100%;background:#0b1622;color:#dde6ef;font:14px/1.4 "Noto Sans CJK SC",
"Microsoft YaHei","PingFang SC",sans-serif}
#map{position:absolute;left:0;top:0;bottom:0;right:420px}
aside{position:absolute;right:0;top:0;bottom:0;width:420px;overflow:auto;padding:12px 16px;
box-sizing:border-box;background:#101e2d;border-left:1px solid #223a52}
h1{font-size:20px;margin:0 0 4px}h3{font-size:15px;margin:14px 0 6px;color:#9fc3e6}
small{color:#8aa0b4;font-weight:normal}
.demo{display:inline-block;background:#a15c00;color:#fff;border-radius:3px;padding:0 6px;
font-size:12px;margin-left:6px}
.meta,.about{color:#8aa0b4;font-size:12px}
.cards{display:grid;grid-template-columns:1fr 1fr;gap:8px}
.card{background:#152a3e;border-radius:4px;padding:8px;border-left:4px solid #4fc3f7}
.card.warn{border-left-color:#ffb300}.card.alarm{border-left-color:#ef5350}
.card.stale,.card.na{opacity:.5;filter:grayscale(1)}
.card .name{font-size:13px}.card .value{font-size:24px;font-weight:bold}
.card .unit{font-size:12px;font-weight:normal;color:#8aa0b4}
table{width:100%;border-collapse:collapse;font-size:12px}
td{padding:2px 4px;border-bottom:1px solid #1d3247}
td.num{text-align:right;white-space:nowrap}td.bar{width:45%}
td.bar span{display:block;height:10px;background:#4fc3f7;border-radius:2px}
tr.urgent td{color:#ff8a80}
.legend{list-style:none;padding:0;margin:0}.legend li{margin:2px 0}
.legend i{display:inline-block;width:12px;height:12px;margin-right:6px;border-radius:2px;
vertical-align:middle}
"""

SCRIPT = """
const container = document.getElementById('map');
const bbox = SNAPSHOT.bbox;
// Fit the wall's extent into this window (the file may open on any screen).
function fit() {
  const r = container.getBoundingClientRect();
  const x = (lon) => (lon + 180) / 360;
  const y = (lat) => (1 - Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360)) / Math.PI) / 2;
  const dx = Math.max(1e-9, x(bbox[2]) - x(bbox[0]));
  const dy = Math.max(1e-9, y(bbox[1]) - y(bbox[3]));
  const zoom = Math.log2(Math.min(r.width / (512 * dx), r.height / (512 * dy)));
  return {longitude: (bbox[0] + bbox[2]) / 2, latitude: (bbox[1] + bbox[3]) / 2,
          zoom: Math.max(0, Math.min(22, zoom)), pitch: 0, bearing: 0};
}
DECK_JSON.initialViewState = fit();
window.__snapshot = {rendered: 0, features: SNAPSHOT.features};
const deckInstance = createDeck({container, jsonInput: DECK_JSON, tooltip: true});
deckInstance.setProps({onAfterRender: () => { window.__snapshot.rendered += 1; }});
"""


def render(s: Situation) -> str:
    """The whole file (~4.4 MB: deck.gl's bundle is most of it)."""
    zh = s.lang == "zh"
    by_id = {c["id"]: c for c in (s.figures or {}).get("cards", [])}
    chart_by_id = {c["id"]: c for c in (s.figures or {}).get("charts", [])}
    cards = "".join(_card(k, by_id.get(k["id"]), s.lang) for k in s.kpis)
    chart_html = "".join(_chart(c, chart_by_id[c["id"]], s.lang) for c in s.charts
                         if c["id"] in chart_by_id)
    when = s.created_at.isoformat(timespec="seconds")
    area = ""
    if s.area:
        area = ("<div class='about'>" + ("统计范围: " if zh else "Figures for: ")
                + html.escape(str(s.area.get("kind"))) + " "
                + html.escape(str(s.area.get("code") or s.area.get("bbox") or "")) + "</div>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in s.notes)
    demo = '<span class="demo">示意 · synthetic</span>' if s.synthetic else ""
    about = (f"{'生成时间' if zh else 'Taken'} {html.escape(when)} · "
             f"{'操作人' if zh else 'by'} {html.escape(s.user)}")
    page_title = html.escape(f"{s.title.zh if zh else s.title.en} · 态势快照 snapshot {when}")
    data = {"bbox": list(s.bbox), "features": s.feature_count}
    return f"""<!DOCTYPE html>
<html lang="{'zh-CN' if zh else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{page_title}</title><style>{STYLE}</style>
<script>{deck_bundle()}</script></head>
<body><div id="map"></div>
<aside><h1>{_t(s.title, s.lang)}{demo}</h1>
<div class="about">{_t(CENTER, s.lang)}</div>
<div class="about" data-testid="snapshot-about">{about}</div>{area}
<h3>{'关键指标' if zh else 'Key figures'}</h3><div class="cards">{cards}</div>
{chart_html}<h3>{'图层' if zh else 'Layers'}</h3>{_legend(s)}{_cases(s)}
{f'<h3>{"说明" if zh else "Notes"}</h3><ul class="about">{notes}</ul>' if notes else ''}
</aside>
<script>const SNAPSHOT = {_script_json(data)};
const DECK_JSON = {_script_json(orjson.loads(deck_json(s)))};
{SCRIPT}</script></body></html>
"""
