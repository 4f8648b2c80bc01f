"""A snapshot opens with the network cut: the file saved by POST /api/snapshots, opened from
file:// in headless Chromium offline, with every request that is not the file itself aborted
and logged. deck.gl (embedded) renders the county, the townships, the layers, the vehicle and
the case; the KPI cards and the legend are in the page; no request leaves the file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from backend.settings import Settings
from tests.conftest import ROOT, TEST_INGEST_TOKEN, bearer

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "var" / "screenshots"
SEAT = (117.88003, 33.47922)
BACKGROUND = (11, 22, 34)  # #0b1622, the page behind the map


@pytest.fixture()
def snapshot(client: TestClient, settings: Settings) -> Iterator[dict]:
    client.post("/api/ingest/positions", headers={
        "Authorization": f"Bearer {TEST_INGEST_TOKEN}"}, json={"positions": [{
            "vehicle_id": "SNAP-E2E-1", "time": datetime.now(UTC).isoformat(),
            "lon": SEAT[0], "lat": SEAT[1] + 0.005, "speed_kmh": 15.0, "heading_deg": 0.0}]})
    response = client.post("/api/snapshots", headers=bearer(client, "commander"), json={
        "view": "overview", "bbox": [117.70, 33.35, 118.05, 33.62], "zoom": 11.2, "lang": "zh"})
    assert response.status_code == 201, response.text
    made = response.json()
    path = settings.var_dir / "snapshots" / made["file_name"]
    yield {**made, "path": path}
    path.unlink(missing_ok=True)


def test_the_snapshot_renders_offline_with_no_request(browser, snapshot: dict) -> None:  # noqa: ANN001
    from PIL import Image

    context = browser.new_context(viewport={"width": 1600, "height": 900})
    context.set_offline(True)
    page = context.new_page()
    outside: list[str] = []
    errors: list[str] = []

    def only_the_file(route) -> None:  # noqa: ANN001
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(snapshot["path"].as_uri())
        page.wait_for_function("window.__snapshot && window.__snapshot.rendered > 0",
                               timeout=30_000)
        state = page.evaluate("window.__snapshot")
        assert state["features"] > 0
        legend = page.locator(".legend b[data-layer]")
        counts = dict(zip(legend.evaluate_all("els => els.map(e => e.dataset.layer)"),
                          [int(t) for t in legend.all_inner_texts()], strict=True))
        assert counts["vehicles"] >= 1 and counts["cases"] >= 0 and counts["roads"] > 0
        cards = page.locator(".card")
        assert cards.count() >= 3
        assert page.locator('.card[data-card="vehicles"] .value').inner_text().strip() != "—"
        assert "示意" in page.locator("h1").inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "snapshot-offline.png"))
        shot = Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB")
        raw = shot.tobytes()
        pixels = [raw[i:i + 3] for i in range(0, len(raw), 3)]
        drawn = sum(1 for p in pixels if max(abs(a - b) for a, b in zip(p, BACKGROUND,
                                                                          strict=True)) > 24)
        assert drawn > len(pixels) * 0.02, f"only {drawn} of {len(pixels)} pixels drawn"
    finally:
        context.close()
    assert outside == []
    assert [e for e in errors if "GPU stall" not in e] == []
