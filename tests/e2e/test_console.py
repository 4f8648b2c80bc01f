"""The console in headless Chromium: the county's layers render, offline, without errors."""

from __future__ import annotations

from io import BytesIO
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT
from tests.e2e.conftest import login

SEAT = (117.88003, 33.47922)
SHOTS = ROOT / "var" / "screenshots"

WAIT_IDLE = "() => new Promise(r => { const m = window.__map; m.once('idle', () => r(true)); " \
            "m.triggerRepaint(); })"
RENDERED = """(source) => window.__map.queryRenderedFeatures()
    .filter(f => f.source === source).map(f => f.properties)"""


def not_blank(png: bytes) -> float:
    pixels = np.asarray(Image.open(BytesIO(png)).convert("L"), dtype=float)
    return float(pixels.std())


@pytest.fixture()
def page(browser, live_server: str):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.errors, page.requests = [], []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    login(page, live_server, "admin")
    yield page
    context.close()


def test_console_shows_the_county_offline(page, live_server: str) -> None:  # noqa: ANN001
    page.goto(live_server)
    page.wait_for_function("() => window.__ready === true", timeout=60_000)
    assert page.evaluate("(s) => window.__map.queryRenderedFeatures().some(f => f.source === s)",
                         "county")
    page.evaluate(f"window.__map.jumpTo({{center: [{SEAT[0]}, {SEAT[1]}], zoom: 14}})")
    page.wait_for_function(WAIT_IDLE, timeout=60_000)
    parcels = page.evaluate(RENDERED, "parcels")
    buildings = page.evaluate(RENDERED, "buildings")
    assert parcels and all("parcel_code" in p for p in parcels)
    assert buildings and all("floors" in b for b in buildings)

    SHOTS.mkdir(parents=True, exist_ok=True)
    flat = page.screenshot(path=str(SHOTS / "console-2d.png"))
    assert not_blank(flat) > 5.0
    page.evaluate("window.__map.jumpTo({pitch: 60, bearing: -20})")
    page.wait_for_function(WAIT_IDLE, timeout=60_000)
    tilted = page.screenshot(path=str(SHOTS / "console-3d.png"))
    assert not_blank(tilted) > 5.0

    assert page.errors == []
    origin = urlparse(live_server).netloc
    outside = [u for u in page.requests
               if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).netloc != origin]
    assert outside == [], f"requests left 127.0.0.1: {outside[:5]}"


def test_layer_panel_is_built_from_the_catalog(page, live_server: str, client) -> None:  # noqa: ANN001
    page.goto(live_server)
    page.wait_for_function("() => window.__ready === true", timeout=60_000)
    panel = page.get_by_test_id("layer-panel")
    text = panel.inner_text()
    for layer in client.get("/api/layers").json()["layers"]:
        assert layer["title"]["zh"] in text
    assert page.errors == []



# The first rendered feature of `source` with a screen point on it that no panel covers (a
# point's position; a line's middle vertex), for clicking it.
ON_SCREEN = """(source) => { const m = window.__map, box = m.getContainer().getBoundingClientRect();
  for (const f of m.queryRenderedFeatures().filter(f => f.source === source)) {
    const g = f.geometry, c = g.type === 'Point' ? g.coordinates
      : g.type === 'LineString' ? g.coordinates[Math.floor(g.coordinates.length / 2)] : null;
    if (!c) continue;
    const p = m.project(c), x = box.left + p.x, y = box.top + p.y;
    if (document.elementFromPoint(x, y) === m.getCanvas()) return {x, y, props: f.properties};
  }
  return null; }"""


def test_popups_name_coded_values(page, live_server: str) -> None:  # noqa: ANN001
    """Issue 15 item 8: a camera's popup says 天网 and 在线 (the layer YAML's names), not
    `tianwang` and `online`."""
    page.goto(live_server)
    page.wait_for_function("() => window.__ready === true", timeout=60_000)
    page.evaluate("window.__desk?.setOpen(false)")
    page.evaluate(f"window.__map.jumpTo({{center: [{SEAT[0]}, {SEAT[1]}], zoom: 14}})")
    page.wait_for_function(WAIT_IDLE, timeout=60_000)
    camera = page.evaluate(ON_SCREEN, "cameras")
    assert camera, "no camera drawn near the county seat"
    page.mouse.click(camera["x"], camera["y"])
    popup = page.locator(".feature-popup")
    popup.wait_for(timeout=10_000)
    text = popup.inner_text()
    kinds = {"tianwang": "天网", "xueliang": "雪亮", "traffic": "交通"}
    states = {"online": "在线", "offline": "离线", "fault": "故障"}
    assert kinds[camera["props"]["kind"]] in text and states[camera["props"]["status"]] in text
    assert camera["props"]["kind"] not in text and camera["props"]["status"] not in text, text
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "popup-camera.png"))
    assert page.errors == []
