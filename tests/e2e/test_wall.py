"""The video wall (/wall) in headless Chromium, as the wall's read-only account `viewer`:
the integer scale (1080p, exactly 2x at 4K, the minimum text sizes), the spliced-wall preset,
the live panels and their staleness when the hub drops, the header's clock from the server,
the domain carousel, a domain view's cards, an area filter and a card filtering the map; and
no request leaving the origin. Tests that need /api/domains or /api/wall/header (other parts of
issue 14) skip with that reason until those routes are on the server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.console_page import SHOTS, not_blank, open_page, outside_requests

READY = "() => window.__wall && window.__wall.ready === true"
# Computed font sizes (px) of the elements that carry the minimum sizes.
SIZES = """() => { const px = (sel) => { const n = document.querySelector(sel);
    return n ? parseFloat(getComputedStyle(n).fontSize) : null; };
  return {body: px('body'), title: px('.wall-panel-title'), value: px('.wall-figure-value'),
          clock: px('.wall-time'), root: px('html')}; }"""
# Where the wall's parts are: name, x, y, width, height (CSS pixels).
BOXES = """() => [...document.querySelectorAll(
    '[data-testid=wall-col], .wall-panel, .wall-header, .wall-center')]
  .map(n => { const r = n.getBoundingClientRect();
    return [n.dataset.panel || n.className.split(' ')[0], r.x, r.y, r.width, r.height]; })"""
# Errors of resources the wall asks for that the other parts of issue 14 may not have served yet.
PENDING = ("/api/domains", "/api/wall/header")
# Whether each of the given catalog layers' first style layer is visible on the map.
VISIBLE = """(ids) => Object.fromEntries(ids.map(id => [id,
    window.__map.getLayoutProperty(id + ':0', 'visibility') !== 'none']))"""


def open_wall(browser: Any, base: str, size: tuple[int, int], query: str = "") -> Any:
    page = open_page(browser, base, size, user="viewer")
    page.goto(f"{base}/wall{query}")
    page.wait_for_function(READY, timeout=120_000)
    return page


def has_route(page: Any, base: str, path: str) -> bool:
    return page.request.get(f"{base}{path}").status != 404


def errors(page: Any, base: str) -> list[str]:
    """Console errors, less the 404s of the routes other parts add (while they are missing)."""
    missing = [p for p in PENDING if not has_route(page, base, p)]
    return [e for e in page.errors if not (missing and "404" in e)]


@pytest.fixture()
def wall_1080(browser, live_server: str):  # noqa: ANN001, ANN201
    page = open_wall(browser, live_server, (1920, 1080))
    yield page
    page.context.close()


def test_wall_at_1080p_is_live_and_offline(wall_1080, live_server: str) -> None:  # noqa: ANN001
    page = wall_1080
    assert page.url.endswith("/wall.html"), page.url
    assert page.evaluate("__wall.layout") == {"k": 1, "preset": "1080p", "sideColumns": 1}
    sizes = page.evaluate(SIZES)
    assert sizes == {"body": 16, "title": 20, "value": 40, "clock": 32, "root": 16}, sizes
    # The panels fill with real figures: the data sets of the catalog, the open cases.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=data-total]').dataset.value > 0",
        timeout=60_000)
    page.wait_for_function("() => window.__wall.connection === 'connected'", timeout=60_000)
    page.wait_for_function("() => window.__map.loaded() && !!window.__map.getLayer('county:0')",
                           timeout=60_000)
    assert page.get_by_test_id("wall-header").inner_text().startswith(("泗县", "1", "0", "2"))
    assert "泗县城市运行管理中心" in page.get_by_test_id("wall-header").inner_text()
    assert page.evaluate("typeof window.__wallFps") == "number"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = page.screenshot(path=str(SHOTS / "wall-1920x1080.png"))
    assert not_blank(shot) > 5.0
    assert errors(page, live_server) == []
    outside = outside_requests(page, live_server)
    assert outside == [], f"requests left the origin: {outside[:5]}"


def test_wall_at_4k_is_exactly_twice_1080p(browser, wall_1080, live_server: str) -> None:  # noqa: ANN001
    small = wall_1080.evaluate(BOXES)
    page = open_wall(browser, live_server, (3840, 2160))
    try:
        assert page.evaluate("__wall.layout") == {"k": 2, "preset": "4k", "sideColumns": 1}
        sizes = page.evaluate(SIZES)
        # The minimums at 4K: body 32, panel titles 40, KPI values 80, the clock 64 px.
        assert sizes["body"] >= 32 and sizes["title"] >= 40 and sizes["value"] >= 80
        assert sizes["clock"] >= 64
        assert sizes == {"body": 32, "title": 40, "value": 80, "clock": 64, "root": 32}, sizes
        big = page.evaluate(BOXES)
        assert [b[0] for b in big] == [s[0] for s in small]
        for (name, *s), (_, *b) in zip(small, big, strict=True):
            assert b == pytest.approx([2 * v for v in s], abs=1.0), name
        # No fractional transform anywhere: the map's canvas is drawn at the screen's pixels.
        canvas = page.evaluate("""() => { const c = window.__map.getCanvas();
            return [c.width, c.getBoundingClientRect().width]; }""")
        assert canvas[0] == pytest.approx(canvas[1], abs=1)
        page.wait_for_timeout(500)  # let the first frame of the panels paint before the picture
        shot = page.screenshot(path=str(SHOTS / "wall-3840x2160.png"))
        assert not_blank(shot) > 5.0
    finally:
        page.context.close()


@pytest.mark.parametrize(("size", "query"),
                         [((5760, 1080), ""), ((1920, 1080), "?preset=5760x1080")])
def test_spliced_wall_preset_adds_columns(browser, live_server: str, size, query) -> None:  # noqa: ANN001
    page = open_wall(browser, live_server, size, query)
    try:
        layout = page.evaluate("__wall.layout")
        assert layout["preset"] == "5760x1080" and layout["sideColumns"] == 2 and layout["k"] == 1
        assert page.get_by_test_id("wall-col").count() == 4
        # Every overview panel is placed, in a column beside the map.
        placed = page.evaluate("""() => [...document.querySelectorAll(
            '[data-testid=wall-col] .wall-panel')].map(p => p.dataset.panel)""")
        assert sorted(placed) == ["alerts", "buses", "cases", "data", "latest"]
        if not query:
            page.screenshot(path=str(SHOTS / "wall-5760x1080.png"))
    finally:
        page.context.close()


def test_panels_go_stale_when_the_hub_drops(wall_1080) -> None:  # noqa: ANN001
    page = wall_1080
    page.wait_for_function("() => window.__wall.connection === 'connected'", timeout=60_000)
    page.wait_for_function("() => !window.__wall.stale.includes('cases')", timeout=30_000)
    page.evaluate("window.__wall.live.stop()")
    page.wait_for_function("() => ['cases', 'buses', 'alerts', 'latest', 'data']"
                           ".every(p => window.__wall.stale.includes(p))", timeout=10_000)
    badge = page.locator('[data-panel="cases"] .wall-stale')
    assert badge.is_visible() and badge.inner_text() == "数据延迟 / stale"
    assert page.locator('[data-panel="cases"]').evaluate("n => n.classList.contains('is-stale')")
    page.evaluate("window.__wall.live.start()")
    page.wait_for_function("() => !window.__wall.stale.includes('cases')", timeout=30_000)


def test_header_clock_follows_the_server(browser, live_server: str) -> None:  # noqa: ANN001
    page = open_page(browser, live_server, (1920, 1080), user="viewer")
    try:
        if not has_route(page, live_server, "/api/wall/header"):
            pytest.skip("needs GET /api/wall/header (the wall header part of issue 14)")
        # The browser's own clock is ten years off: the wall still shows the server's time.
        page.clock.install(time="2016-01-01T00:00:00+08:00")
        page.goto(f"{live_server}/wall")
        page.wait_for_function(READY, timeout=120_000)
        page.wait_for_function("() => window.__wall.header.clock.synced", timeout=30_000)
        server = page.request.get(f"{live_server}/api/wall/header").json()["now"]
        shown = page.evaluate(
            "Number(document.querySelector('[data-testid=wall-time]').dataset.epoch)")
        server_ms = page.evaluate("(iso) => Date.parse(iso)", server)
        assert abs(shown - server_ms) < 120_000, (shown, server)
        assert page.get_by_test_id("wall-time").inner_text().count(":") == 2
    finally:
        page.context.close()


def _domains_or_skip(page: Any, base: str) -> list[dict]:
    if not has_route(page, base, "/api/domains"):
        pytest.skip("needs GET /api/domains (the domains part of issue 14)")
    return page.request.get(f"{base}/api/domains").json()["domains"]


def test_carousel_advances_and_pauses_on_touch(browser, live_server: str) -> None:  # noqa: ANN001
    page = open_page(browser, live_server, (1920, 1080), user="viewer")
    try:
        domains = _domains_or_skip(page, live_server)
        page.goto(f"{live_server}/wall?carousel=2")
        page.wait_for_function(READY, timeout=120_000)
        assert page.get_by_test_id("wall-tab").count() == len(domains) + 1
        page.wait_for_function("() => window.__wall.view !== 'overview'", timeout=30_000)
        assert page.evaluate("__wall.view") == domains[0]["id"]
        page.get_by_test_id("wall-map").click()
        assert page.evaluate("__wall.paused") is True
        held = page.evaluate("__wall.view")
        page.wait_for_timeout(4_500)  # two intervals pass: a paused carousel does not move
        assert page.evaluate("__wall.view") == held
        tab = page.locator(f'[data-testid=wall-tab][data-view="{domains[-1]["id"]}"]')
        tab.click()
        assert page.evaluate("__wall.view") == domains[-1]["id"]
    finally:
        page.context.close()


def test_domain_cards_filters_and_card_on_the_map(browser, live_server: str) -> None:  # noqa: ANN001
    page = open_page(browser, live_server, (1920, 1080), user="viewer")
    try:
        domains = _domains_or_skip(page, live_server)
        view = next((d for d in domains if "extent" in d["filters"]
                     and any(k["map"] and k["map"]["filter"] for k in d["kpis"])), None)
        assert view, "no domain view with an extent filter and a card filtering the map"
        page.goto(f"{live_server}/wall")
        page.wait_for_function(READY, timeout=120_000)
        page.evaluate("(id) => window.__wall.carousel.show(id)", view["id"])
        page.wait_for_function("(id) => window.__wall.figures?.domain === id", arg=view["id"],
                               timeout=30_000)
        cards = page.get_by_test_id("wall-card")
        assert cards.count() == len(view["kpis"])
        assert page.evaluate("__wall.figures.area") is None
        county = page.evaluate("__wall.figures")
        # The map's extent as the filter: zoom into the county seat, follow the extent.
        page.evaluate("window.__map.jumpTo({center: [117.88, 33.48], zoom: 14})")
        page.get_by_test_id("filter-extent").click()
        page.wait_for_function("() => window.__wall.figures?.area?.kind === 'bbox'", timeout=30_000)
        assert page.get_by_test_id("filter-chip").is_visible()
        cut = page.evaluate("__wall.figures")
        assert cut["computed_at"] >= county["computed_at"]
        assert any(c["filtered"] for c in cut["cards"])
        page.get_by_test_id("filter-chip").locator("button").click()
        page.wait_for_function("() => window.__wall.figures?.area === null", timeout=30_000)
        # A card with `map` filters its layer; a second click clears it.
        _cards_on_the_map(page, view)
        # A card whose `map.filter` is null (rural_land's confirmed_rate) is about its whole
        # layer: its click hides the view's other layers; its layer keeps its own filter.
        whole = next((d for d in domains if len(d["layers"]) > 1
                      and any(k["map"] and k["map"]["filter"] is None for k in d["kpis"])), None)
        if whole:
            page.evaluate("(id) => window.__wall.carousel.show(id)", whole["id"])
            page.wait_for_function("(id) => window.__wall.figures?.domain === id",
                                   arg=whole["id"], timeout=30_000)
            _cards_on_the_map(page, whole)
        page.screenshot(path=str(SHOTS / "wall-domain.png"))
        assert errors(page, live_server) == []
        assert outside_requests(page, live_server) == []
    finally:
        page.context.close()


def _cards_on_the_map(page: Any, view: dict) -> None:
    """Each card of `view` with `map`: a click filters its layer (or, with no expression, shows
    that layer alone); a second click puts the map back."""
    for kpi in [k for k in view["kpis"] if k["map"]]:
        card = page.locator(f'[data-testid=wall-card][data-card="{kpi["id"]}"]')
        card.click()
        layer, expression = kpi["map"]["layer"], kpi["map"]["filter"]
        assert page.evaluate("__wall.layerFilter.layer") == layer
        assert page.get_by_test_id("layer-filter-chip").is_visible()
        got = page.evaluate("(id) => window.__map.getFilter(id + ':0')", layer)
        if expression is not None:
            assert got is not None and str(expression[0]) in str(got), (kpi["id"], got)
        shown = page.evaluate(VISIBLE, view["layers"])
        assert shown[layer] is True, shown
        if expression is None:
            assert not any(v for k, v in shown.items() if k != layer), shown
        card.click()
        assert page.evaluate("__wall.layerFilter") is None
        assert all(page.evaluate(VISIBLE, view["layers"]).values())


def test_header_warnings_by_kind_and_language_toggle(browser, live_server: str) -> None:  # noqa: ANN001
    """One warning chip per kind and level (the townships it covers counted on it); the 中/EN
    toggle switches the wall's language through the console's lang module and keeps the view."""
    page = open_page(browser, live_server, (1920, 1080), user="viewer")
    try:
        domains = _domains_or_skip(page, live_server)
        header = page.request.get(f"{live_server}/api/wall/header").json()
        page.goto(f"{live_server}/wall?carousel=3600")
        page.wait_for_function(READY, timeout=120_000)
        page.wait_for_function("() => window.__wall.header.data !== null", timeout=30_000)
        groups: dict[tuple[str, str], set[str]] = {}
        for x in header["warnings"]:
            where = x["township"] or x["township_code"]
            groups.setdefault((x["kind"], x["level"]), set()).add(where)
        chips = page.get_by_test_id("wall-warning")
        assert chips.count() == len(groups)
        assert sorted(int(n) for n in chips.evaluate_all("cs => cs.map(c => c.dataset.townships)")
                      ) == sorted(len(t) for t in groups.values())
        # The 示意 badge is beside the title, not over it.
        title, badge = (page.locator(s).bounding_box() for s in (".wall-title", ".wall-demo"))
        assert badge["x"] >= title["x"] + title["width"] - 1
        page.evaluate("(id) => window.__wall.carousel.show(id)", domains[0]["id"])
        page.get_by_test_id("wall-lang").click()
        page.wait_for_url("**lang=en**", timeout=60_000)
        page.wait_for_function(READY, timeout=120_000)
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator(".wall-title").inner_text() == "Sixian City Operations Center"
        assert page.get_by_test_id("wall-lang").inner_text() == "中"
        page.wait_for_function("(id) => window.__wall.view === id", arg=domains[0]["id"],
                               timeout=30_000)
        tab = page.locator(f'[data-testid=wall-tab][data-view="{domains[0]["id"]}"]')
        assert tab.inner_text() == domains[0]["title"]["en"]
        page.screenshot(path=str(SHOTS / "wall-en.png"))
    finally:
        page.context.close()


def test_snapshot_button_saves_the_view_as_one_offline_file(browser, live_server: str) -> None:  # noqa: ANN001
    """态势快照 on a domain view cut by the map's extent: the server answers with the file, the
    wall offers its link, and the file is the view's (its cards, deck.gl inlined, no URL out)."""
    page = open_page(browser, live_server, (1920, 1080), user="viewer")
    try:
        domains = _domains_or_skip(page, live_server)
        view = next(d for d in domains if "extent" in d["filters"])
        page.goto(f"{live_server}/wall")
        page.wait_for_function(READY, timeout=120_000)
        page.evaluate("(id) => window.__wall.carousel.show(id)", view["id"])
        page.wait_for_function("(id) => window.__wall.figures?.domain === id", arg=view["id"],
                               timeout=30_000)
        page.evaluate("window.__map.jumpTo({center: [117.88, 33.48], zoom: 12})")
        page.get_by_test_id("filter-extent").click()
        page.wait_for_function("() => window.__wall.figures?.area?.kind === 'bbox'",
                               timeout=30_000)
        with page.expect_response(lambda r: r.url.endswith("/api/snapshots")
                                  and r.request.method == "POST", timeout=120_000) as made:
            page.get_by_test_id("wall-snapshot").click()
        assert made.value.status == 201, made.value.text()
        record = made.value.json()
        assert record["view"] == view["id"]
        link = page.get_by_test_id("wall-snapshot-link")
        link.wait_for(state="visible", timeout=30_000)
        assert link.get_attribute("href").endswith(record["url"])
        html = page.request.get(f"{live_server}{record['url']}").text()
        assert len(html.encode()) == record["bytes"]
        assert "deck" in html and view["title"]["zh"] in html
        for kpi in view["kpis"]:
            assert kpi["title"]["zh"] in html, kpi["id"]
        assert "https://" not in html.split("<script", 1)[0]  # no stylesheet or font from afar
        assert outside_requests(page, live_server) == []
    finally:
        page.context.close()
