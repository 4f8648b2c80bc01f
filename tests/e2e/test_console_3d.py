"""The console in 3D (issue 9 parts 5 and 7): the DEM as terrain with its exaggeration stated,
the pipelines drawn by deck.gl below the ground at their depth, the 地下 view that makes the
ground see-through, a pipe picked in 3D opening its popup, and 2D undoing all of it."""

from __future__ import annotations

import pytest

from tests.e2e.console_page import (
    HILL,
    SHOTS,
    TERRAIN_TIMEOUT,
    WAIT_IDLE,
    goto_console,
    open_page,
    outside_requests,
    plain_height,
    rasters,  # noqa: F401 (fixture)
)

# A drawn pipe near the middle of the map (deck.gl's own picking), with its screen point.
PIPE_ON_SCREEN = """() => { const m = window.__map, box = m.getContainer().getBoundingClientRect();
  const c = {x: box.width / 2, y: box.height / 2};
  for (let r = 0; r < Math.min(box.width, box.height) / 2; r += 5)
    for (let a = 0; a < 360; a += 20) {
      const x = c.x + r * Math.cos(a * Math.PI / 180), y = c.y + r * Math.sin(a * Math.PI / 180);
      const el = document.elementFromPoint(box.left + x, box.top + y);
      if (el !== m.getCanvas()) continue;
      const [pipe] = window.__scene.pipes.pipesAt(x, y);
      if (pipe) return {x: box.left + x, y: box.top + y, props: pipe.properties,
                        coords: pipe.coords, path: pipe.path, width: pipe.width};
    }
  return null; }"""
PAINT = "([id, prop]) => window.__map.getPaintProperty(id, prop)"


def _first_fill(catalog: list[dict]) -> tuple[str, float] | None:
    """A fill style layer of the catalog drawn at a plain number opacity: (style id, opacity)."""
    for layer in catalog:
        if layer["kind"] not in ("table", "sql"):
            continue
        for i, fragment in enumerate(layer["style"]):
            value = (fragment.get("paint") or {}).get("fill-opacity")
            if fragment["type"] == "fill" and isinstance(value, int | float):
                return f"{layer['id']}:{i}", float(value)
    return None


@pytest.fixture()
def page(browser, live_server: str):  # noqa: ANN001, ANN201
    # Small, and below with the imagery off and a lower pitch: SwiftShader draws the terrain's
    # tiles on the CPU, seconds a frame, and a wide pitched view settles only after minutes.
    page = open_page(browser, live_server, (1024, 640))
    yield page
    page.context.close()


def test_terrain_pipes_below_ground_and_the_underground_view(  # noqa: PLR0915
        page, live_server: str, client, rasters) -> None:  # noqa: ANN001, F811
    catalog = client.get("/api/layers").json()["layers"]
    dem = next(la for la in catalog if la["kind"] == "dem")
    pipes = next(la for la in catalog if la.get("underground"))
    fill = _first_fill(catalog)
    goto_console(page, live_server)
    if page.get_by_test_id("imagery-switch").is_checked():
        page.locator(".base-switch").click()
    page.locator(f'.layer-row[data-layer-id="{pipes["id"]}"]').click()
    assert page.get_by_test_id("underground-toggle").is_hidden()  # 2D: nothing to toggle
    page.evaluate(f"window.__map.jumpTo({{center: [{HILL[0]}, {HILL[1]}], zoom: 15.5}})")
    page.get_by_test_id("view-3d-toggle").click()
    page.wait_for_function("() => window.__map.getPitch() > 55", timeout=30_000)
    page.evaluate("window.__map.jumpTo({pitch: 45})")  # still 3D; fewer far tiles to draw

    terrain = page.evaluate("window.__map.getTerrain()")
    assert terrain and terrain["exaggeration"] > 1
    source = page.evaluate("(id) => window.__map.getSource(id).serialize()", terrain["source"])
    assert source["type"] == "raster-dem" and f"/tiles/{dem['id']}" in source["url"]
    factor = terrain["exaggeration"]
    assert f"×{factor:g}" in page.get_by_test_id("relief-note").inner_text()
    shade = page.evaluate("(id) => window.__map.getStyle().layers.find(l => l.source === id)",
                          dem["id"])
    assert shade["type"] == "hillshade" and shade["layout"]["visibility"] == "visible"

    page.wait_for_function("() => window.__scene.pipes.drawn > 0", timeout=TERRAIN_TIMEOUT)
    page.wait_for_function(WAIT_IDLE, timeout=TERRAIN_TIMEOUT)
    # The ground's height at the hill is the DEM made for the test (terrain-RGB steps 0.1 m,
    # the DEM's 100 m cells smooth the top a little).
    top = page.evaluate(f"window.__map.queryTerrainElevation([{HILL[0]}, {HILL[1]}])")
    assert top / factor == pytest.approx(plain_height(HILL[0], HILL[1]), abs=2.0)
    # The 2D dashed lines make way for deck's 3D paths.
    assert page.evaluate("(id) => window.__map.getLayoutProperty(id, 'visibility')",
                         f"{pipes['id']}:0") == "none"

    pipe = page.evaluate(PIPE_ON_SCREEN)
    assert pipe, "no pipe drawn near the middle of the map"
    spec = pipes["underground"]
    # Each end at the ground's height there less its depth (cover plus half the diameter),
    # on the terrain's vertical scale.
    for end, depth in ((0, spec["depth_start"]), (-1, spec["depth_end"])):
        ground = page.evaluate("(c) => window.__map.queryTerrainElevation(c)", pipe["coords"][end])
        axis = pipe["props"][depth] + pipe["width"] / 2
        assert pipe["path"][end][2] == pytest.approx(ground - axis * factor, abs=1.5)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-3d-terrain.png"))

    page.get_by_test_id("underground-toggle").click()
    assert page.get_by_test_id("underground-toggle").get_attribute("aria-pressed") == "true"
    lowered = page.evaluate(PAINT, ["background", "background-opacity"])
    assert 0 < lowered < 1
    if fill:
        assert page.evaluate(PAINT, [fill[0], "fill-opacity"]) == pytest.approx(
            fill[1] * lowered)
    shadow = page.evaluate(PAINT, [shade["id"], "hillshade-shadow-color"])
    assert shadow.startswith("rgba(") and float(shadow.rsplit(",", 1)[1].rstrip(")")) < 1
    assert page.evaluate("window.__scene.pipes.throughGround") is True
    page.wait_for_function(WAIT_IDLE, timeout=TERRAIN_TIMEOUT)
    page.screenshot(path=str(SHOTS / "console-3d-underground.png"))

    # Picking a pipe in 3D opens the popup the 2D layer opens: its fields, values named.
    pipe = page.evaluate(PIPE_ON_SCREEN)
    assert pipe
    page.mouse.click(pipe["x"], pipe["y"])
    popup = page.get_by_test_id("feature-popup")
    popup.wait_for(timeout=10_000)
    assert popup.get_attribute("data-layer-id") == pipes["id"]
    text = popup.inner_text()
    network = next(f for f in pipes["fields"] if f["name"] == "network")
    assert network["values"][pipe["props"]["network"]]["zh"] in text
    page.screenshot(path=str(SHOTS / "console-3d-pipe-popup.png"))

    page.get_by_test_id("view-3d-toggle").click()
    page.wait_for_function("() => window.__map.getPitch() < 1", timeout=30_000)
    assert page.evaluate("window.__map.getTerrain()") is None
    assert page.get_by_test_id("underground-toggle").is_hidden()
    assert page.evaluate(PAINT, ["background", "background-opacity"]) in (None, 1)
    if fill:
        assert page.evaluate(PAINT, [fill[0], "fill-opacity"]) == pytest.approx(fill[1])
    assert page.evaluate("(id) => window.__map.getLayoutProperty(id, 'visibility')",
                         f"{pipes['id']}:0") == "visible"
    assert page.evaluate("window.__scene.pipes.drawn") == 0
    assert page.errors == []
    assert outside_requests(page, live_server) == []
