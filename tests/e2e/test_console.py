"""The console in headless Chromium: the county's layers render, offline, without errors; the
layer panel is the catalog's (domains in order, foldable); the imagery base and the raster
opacities work on the map's own style and are kept per user."""

from __future__ import annotations

import math

import pytest

from tests.e2e.console_page import (
    SEAT,
    SHOTS,
    WAIT_IDLE,
    goto_console,
    not_blank,
    open_page,
    outside_requests,
    rasters,  # noqa: F401 (fixture)
)

RENDERED = """(source) => window.__map.queryRenderedFeatures()
    .filter(f => f.source === source).map(f => f.properties)"""


@pytest.fixture()
def page(browser, live_server: str):  # noqa: ANN001, ANN201
    page = open_page(browser, live_server)
    yield page
    page.context.close()


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
    outside = outside_requests(page, live_server)
    assert outside == [], f"requests left 127.0.0.1: {outside[:5]}"


def test_layer_panel_is_built_from_the_catalog(page, live_server: str, client) -> None:  # noqa: ANN001
    """Issue 9 part 8: one group per domain that has layers, in the catalog's domain order,
    titled in Chinese first; every layer in its domain's group; a folded group stays folded
    for this user after a reload."""
    catalog = client.get("/api/layers").json()
    goto_console(page, live_server)
    panel = page.get_by_test_id("layer-panel")
    used = {layer["domain"] for layer in catalog["layers"]}
    ordered = sorted(catalog["domains"], key=lambda d: d["order"])
    expected = [d["id"] for d in ordered if d["id"] in used]
    groups = page.get_by_test_id("layer-group")
    assert groups.evaluate_all("gs => gs.map(g => g.dataset.domain)") == expected
    for domain in catalog["domains"]:
        if domain["id"] not in used:
            continue
        group = page.locator(f'[data-testid="layer-group"][data-domain="{domain["id"]}"]')
        assert group.locator(".domain-toggle .name-main").inner_text() == domain["zh"]
        ids = group.locator(".layer-row").evaluate_all("rows => rows.map(r => r.dataset.layerId)")
        own = [la["id"] for la in catalog["layers"] if la["domain"] == domain["id"]]
        assert sorted(ids) == sorted(own)
    text = panel.inner_text()
    for layer in catalog["layers"]:
        assert layer["title"]["zh"] in text

    first = groups.first
    first.locator(".domain-toggle").click()
    assert first.locator(".layer-list").is_hidden()
    goto_console(page, live_server)
    assert page.get_by_test_id("layer-group").first.locator(".layer-list").is_hidden()
    page.get_by_test_id("layer-group").first.locator(".domain-toggle").click()
    assert page.get_by_test_id("layer-group").first.locator(".layer-list").is_visible()
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
    """Issue 15 item 8: a camera is named 天网 and 在线 (the layer YAML's names), not `tianwang`
    and `online`. Since issue 11 a camera's click opens the camera panel (src/cameras), not the
    feature popup: the panel names them so."""
    page.goto(live_server)
    page.wait_for_function("() => window.__ready === true", timeout=60_000)
    page.evaluate("window.__desk?.setOpen(false)")
    page.evaluate(f"window.__map.jumpTo({{center: [{SEAT[0]}, {SEAT[1]}], zoom: 14}})")
    page.wait_for_function(WAIT_IDLE, timeout=60_000)
    camera = page.evaluate(ON_SCREEN, "cameras")
    assert camera, "no camera drawn near the county seat"
    page.mouse.click(camera["x"], camera["y"])
    page.wait_for_function("(c) => window.__cameras.panel.camera?.code === c",
                           arg=camera["props"]["code"], timeout=10_000)
    text = page.get_by_test_id("camera-detail").inner_text()
    kinds = {"tianwang": "天网", "xueliang": "雪亮", "traffic": "交通"}
    states = {"online": "在线", "offline": "离线", "fault": "故障"}
    assert page.get_by_test_id("camera-kind").inner_text() == kinds[camera["props"]["kind"]]
    assert page.get_by_test_id("camera-status").inner_text() == states[camera["props"]["status"]]
    assert camera["props"]["kind"] not in text and camera["props"]["status"] not in text, text
    assert page.locator(".feature-popup").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "popup-camera.png"))
    assert page.errors == []


STYLE_OF = """(id) => { const m = window.__map, layers = m.getStyle().layers;
  const own = layers.filter(l => l.id.startsWith(id + ':'));
  return own.map(l => ({id: l.id, type: l.type, index: layers.indexOf(l),
    visibility: m.getLayoutProperty(l.id, 'visibility') ?? 'visible',
    opacity: l.type === 'raster' ? m.getPaintProperty(l.id, 'raster-opacity') : null})); }"""
# Index of the lowest style layer drawn from a vector tile source.
FIRST_VECTOR = """() => { const m = window.__map;
  return m.getStyle().layers.findIndex(l => l.source
    && m.getSource(l.source)?.type === 'vector'); }"""


def _imagery_on(page, imagery: list[str], idle: bool = True) -> None:  # noqa: ANN001
    """Waits for the imagery's tiles (and, with `idle`, for the whole map to settle)."""
    for layer_id in imagery:
        page.wait_for_function(
            "(id) => { const s = window.__map.getSource(id); return !!s && s.loaded(); }",
            arg=layer_id, timeout=300_000)
    if idle:
        page.wait_for_function(WAIT_IDLE, timeout=240_000)


def test_imagery_switch_and_raster_opacity(page, live_server: str, client, rasters) -> None:  # noqa: ANN001, F811
    """The 影像 switch puts every `basemap: imagery` layer on the map, under every vector layer,
    coarse under fine, and takes them off again; a raster's opacity slider sets its
    raster-opacity; both are the user's own after a reload."""
    catalog = client.get("/api/layers").json()["layers"]
    imagery = [la["id"] for la in sorted(catalog, key=lambda la: la["order"])
               if la.get("basemap") == "imagery"]
    assert len(imagery) >= 2 and all(i in rasters for i in imagery)
    goto_console(page, live_server)
    page.evaluate(f"window.__map.jumpTo({{center: [{SEAT[0]}, {SEAT[1]}], zoom: 14}})")
    page.wait_for_function(WAIT_IDLE, timeout=60_000)
    if page.get_by_test_id("imagery-switch").is_checked():  # the catalog may start with it on
        page.locator(".base-switch").click()
    assert all(s["visibility"] == "none" for i in imagery for s in page.evaluate(STYLE_OF, i))

    page.locator(".base-switch").click()
    _imagery_on(page, imagery)
    styles = [page.evaluate(STYLE_OF, i) for i in imagery]
    assert all(s and s[0]["type"] == "raster" and s[0]["visibility"] == "visible" for s in styles)
    indexes = [s[0]["index"] for s in styles]
    assert indexes == sorted(indexes), "imagery is not drawn coarse under fine"
    assert max(indexes) < page.evaluate(FIRST_VECTOR), "imagery is not under the vector layers"
    tiles = [u for u in page.requests if any(f"/tiles/{i}/" in u for i in imagery)]
    assert tiles, "no imagery tile was asked for"

    slider = page.locator(f'[data-testid="opacity-slider"][data-layer-id="{imagery[-1]}"]')
    slider.fill("40")
    assert page.evaluate(STYLE_OF, imagery[-1])[0]["opacity"] == pytest.approx(0.4)

    goto_console(page, live_server)  # the same user again: the switch and the opacity kept
    assert page.get_by_test_id("imagery-switch").is_checked()
    _imagery_on(page, imagery)
    assert page.evaluate(STYLE_OF, imagery[-1])[0]["opacity"] == pytest.approx(0.4)
    slider = page.locator(f'[data-testid="opacity-slider"][data-layer-id="{imagery[-1]}"]')
    assert slider.input_value() == "40"

    page.locator(".base-switch").click()
    assert all(s["visibility"] == "none" for i in imagery for s in page.evaluate(STYLE_OF, i))
    assert not page.get_by_test_id("imagery-switch").is_checked()
    assert page.errors == []
    assert outside_requests(page, live_server) == []


@pytest.mark.parametrize(("name", "size", "phone"), [
    ("1920x1080", (1920, 1080), False),
    ("3840x2160", (3840, 2160), False),
    ("390x844", (390, 844), True),
])
def test_imagery_screenshots(browser, live_server: str, client, rasters,  # noqa: ANN001, F811
                             name: str, size: tuple[int, int], phone: bool) -> None:
    """The console with the imagery base on, at a wall PC's, a video wall's and a phone's size
    (var/screenshots/imagery-*.png, looked at while developing): not blank, no errors."""
    imagery = [la["id"] for la in client.get("/api/layers").json()["layers"]
               if la.get("basemap") == "imagery"]
    page = open_page(browser, live_server, size, phone=phone)
    try:
        goto_console(page, live_server, timeout=300_000, idle=size[0] < 3000)
        if phone:  # the panel starts folded on a phone
            page.get_by_test_id("layer-panel-toggle").click()
        # A wall's 3840 px one zoom level lower: the small rasters made for the test then fill
        # only the middle of the wall, and a 2-core test server renders fewer raster tiles.
        zoom = 14 - max(0.0, math.log2(size[0] / 1920))
        page.evaluate(f"window.__map.jumpTo({{center: [{SEAT[0]}, {SEAT[1]}], zoom: {zoom}}})")
        if not page.get_by_test_id("imagery-switch").is_checked():
            page.locator(".base-switch").click()
        # The imagery's tiles in; the rest of a 4K frame may still be drawing on the CPU.
        _imagery_on(page, imagery, idle=size[0] < 3000)
        page.wait_for_timeout(1000)  # the tiles' fade-in
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = page.screenshot(path=str(SHOTS / f"imagery-{name}.png"))
        assert not_blank(shot) > 5.0
        assert page.errors == []
    finally:
        page.context.close()
