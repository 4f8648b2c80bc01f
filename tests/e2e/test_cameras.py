"""Cameras in the console and the desk, end to end in headless Chromium against the real cameras
API (registry, signed play links, builtin HLS test streams, the alarm webhook, alarm to case):

- a dispatcher sees the cameras as status-coloured icons; a `cameras.status` event recolours one
  at once (no tile reload); a click opens its panel (name, code, status, kind, field of view,
  presets); 播放 plays its HLS stream (made here with ffmpeg) in a video panel until the <video>
  has data; closing the panel destroys its hls.js instance; a camera without a stream says so;
- an alarm posted to the webhook appears live in the alarm list with its kind's name, is
  acknowledged and made a case from the page (checked over the API), and links to the desk;
- the traffic police read the alarm list without its buttons; a grid worker sees no cameras UI;
- the desk's case view lists the cameras that can see the case, and plays one;
- the view cones of the catalog's `cameras_view` layer: the selected camera's, all from zoom 17
  (when the catalog has that layer).

No console errors; no request leaves 127.0.0.1. Screenshots (1920x1080, 390x844, 3840x2160) go
to /work/shots/front/ (or $CITYOPS_SHOTS) and were looked at while developing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from backend.settings import Settings
from tests.conftest import bearer, serve_app
from tests.e2e.console_page import WAIT_IDLE, not_blank, open_page, outside_requests

pytestmark = pytest.mark.e2e

ALARM_TOKEN = "e2e-camera-alarm-token"
SHOTS = Path(os.environ.get("CITYOPS_SHOTS", "/work/shots/front"))
SEAT = (117.88003, 33.47922)
VIDEO_HAS_DATA = ("(code) => { const v = document.querySelector("
                  "`[data-testid=camera-video][data-code='${code}'] video`); "
                  "return !!v && (v.readyState >= 2 || v.currentTime > 0); }")
RENDERED = "() => window.__cameras.map.rendered()"


@pytest.fixture(scope="module")
def cam_app(settings: Settings, county: dict[str, int], users: dict[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The app under uvicorn with the alarm webhook's token and its own test stream directory:
    (base URL, the app)."""
    from backend.main import create_app

    app = create_app(settings.model_copy(update={
        "camera_alarm_token": ALARM_TOKEN,
        "media_hls_dir": tmp_path_factory.mktemp("hls"),
        "media_link_secret": "e2e-media-link-secret",
        "media_link_ttl_s": 600,
    }))
    with serve_app(app) as base:
        yield base, app


@pytest.fixture(scope="module")
def cams(engine: sa.Engine, county: dict[str, int]) -> list[dict[str, Any]]:
    """The demo county's online cameras nearest the seat (code, name, kind, status, lon, lat)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT code, name, kind, status, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cameras "
            "WHERE status = 'online' ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326) "
            "LIMIT 3"), {"x": SEAT[0], "y": SEAT[1]}).mappings().all()
    assert len(rows) == 3, "the small demo county should hold online cameras near the seat"
    return [dict(r) for r in rows]


@pytest.fixture(scope="module")
def streamed(cam_app: tuple[str, Any], cams: list[dict[str, Any]]) -> dict[str, Any]:
    """The first camera with a real HLS test stream (ffmpeg: 8 s of a test pattern, 1 s
    segments, named as the builtin media kind serves them)."""
    _, app = cam_app
    camera = cams[0]
    out = Path(app.state.resources.settings.media_hls_dir) / camera["code"]
    out.mkdir(parents=True, exist_ok=True)
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is missing: make system installs it"
    subprocess.run([
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
        "-i", "testsrc2=size=320x180:rate=15", "-t", "8", "-c:v", "libx264",
        "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "15", "-f", "hls",
        "-hls_time", "1", "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(out / "seg_%03d.ts"), str(out / "index.m3u8"),
    ], check=True, timeout=120)
    assert (out / "index.m3u8").is_file()
    return camera


@pytest.fixture()
def api(cam_app: tuple[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cam_app[0], timeout=30) as http:
        yield http


def console(browser: Any, base: str, user: str, size: tuple[int, int] = (1920, 1080), *,
            phone: bool = False) -> Any:
    page = open_page(browser, base, size, phone=phone, user=user)
    page.goto(base)
    page.wait_for_function("() => window.__ready === true", timeout=120_000)
    page.evaluate("window.__desk?.setOpen(false)")
    return page


def fly(page: Any, lon: float, lat: float, zoom: float = 17.5) -> None:
    page.evaluate("([lon, lat, zoom]) => window.__map.jumpTo({center: [lon, lat], zoom})",
                  [lon, lat, zoom])
    page.wait_for_function(WAIT_IDLE, timeout=60_000)


def click_camera(page: Any, camera: dict[str, Any]) -> None:
    x, y = page.evaluate("([lon, lat]) => { const p = window.__map.project([lon, lat]); "
                         "const r = window.__map.getCanvas().getBoundingClientRect(); "
                         "return [r.left + p.x, r.top + p.y]; }", [camera["lon"], camera["lat"]])
    page.mouse.click(x, y)


def shot(page: Any, name: str) -> float:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return not_blank(page.screenshot(path=str(SHOTS / name)))


def post_alarm(api: httpx.Client, camera: str, kind: str, note: str) -> dict[str, Any]:
    answer = api.post("/api/cameras/alarms", headers={"Authorization": f"Bearer {ALARM_TOKEN}"},
                      json={"camera": camera, "time": datetime.now(UTC).isoformat(),
                            "kind": kind, "priority": 2, "description": note})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_dispatcher_sees_live_status_opens_a_camera_and_plays_it(
        browser: Any, cam_app: tuple[str, Any], cams: list[dict[str, Any]],
        streamed: dict[str, Any], client: Any) -> None:
    base, app = cam_app
    page = console(browser, base, "dispatcher")
    try:
        assert page.get_by_test_id("cameras-toggle").is_visible()
        page.wait_for_function("() => window.__live.currentState === 'connected'", timeout=20_000)
        other = cams[1]
        fly(page, streamed["lon"], streamed["lat"])
        drawn = {p["code"]: p for p in page.evaluate(RENDERED)["points"]}
        assert drawn[streamed["code"]]["status"] == "online"
        assert drawn[other["code"]]["status"] == "online"

        # A status event recolours the camera from the overlay; its tile copy is hidden.
        hub = app.state.hub
        hub.publish_threadsafe("cameras.status", {
            "code": other["code"], "name": other["name"], "status": "fault",
            "previous": "online", "reason": "timeout", "time": datetime.now(UTC).isoformat(),
            "lon": other["lon"], "lat": other["lat"]}).result(timeout=10)
        page.wait_for_function("(c) => window.__cameras.map.liveStatus(c) === 'fault'",
                               arg=other["code"], timeout=20_000)
        page.wait_for_function(WAIT_IDLE, timeout=60_000)
        now = [p for p in page.evaluate(RENDERED)["points"] if p["code"] == other["code"]]
        assert [(p["layer"], p["status"]) for p in now] == [("cameras-live", "fault")], now
        assert page.evaluate("window.__live.stats.events['cameras.status']") >= 1

        # A click opens the camera's panel with its registry record.
        click_camera(page, streamed)
        detail = page.get_by_test_id("camera-detail")
        detail.wait_for(timeout=10_000)
        page.wait_for_function("(c) => window.__cameras.panel.camera?.code === c",
                               arg=streamed["code"], timeout=10_000)
        assert page.get_by_test_id("camera-code").inner_text() == streamed["code"]
        assert page.get_by_test_id("camera-status").inner_text() == "在线"
        assert page.get_by_test_id("camera-kind").inner_text() in ("天网", "雪亮", "交通")
        record = client.get(f"/api/cameras/{streamed['code']}").json()
        assert page.get_by_test_id("camera-name").inner_text() == (record["name"] or record["code"])
        assert len(page.get_by_test_id("camera-preset").all()) == len(record["presets"])
        assert page.locator(".feature-popup").count() == 0  # the camera's click, not a popup

        # 播放: the signed HLS address plays in a video panel (hls.js, muted autoplay).
        page.get_by_test_id("camera-play").click()
        page.wait_for_function(VIDEO_HAS_DATA, arg=streamed["code"], timeout=180_000)
        assert page.evaluate("window.__cameras.videos.live") == 1
        assert page.evaluate("document.querySelector('[data-testid=camera-video] video').muted")
        assert page.locator("[data-testid=camera-video] .cam-video-name").inner_text() == (
            record["name"] or record["code"])
        assert shot(page, "console-1920x1080-camera-video.png") > 5.0

        # A second camera, without a stream: it says so, and the first keeps playing.
        click_camera(page, other)
        page.wait_for_function("(c) => window.__cameras.panel.camera?.code === c",
                               arg=other["code"], timeout=10_000)
        assert page.get_by_test_id("camera-status").inner_text() == "故障"  # the live status
        page.get_by_test_id("camera-play").click()
        none = page.locator(f"[data-testid=camera-video][data-code='{other['code']}']")
        none.locator("[data-testid=camera-video-note]").wait_for(timeout=10_000)
        page.wait_for_function(
            "(c) => document.querySelector(`[data-testid=camera-video][data-code='${c}']`)"
            "?.dataset.state === 'none'", arg=other["code"], timeout=10_000)
        assert none.get_by_test_id("camera-video-note").inner_text() == "该摄像机暂无视频流"
        assert page.evaluate("window.__cameras.videos.live") == 1

        # Closing destroys the hls.js instance and the element; the other closes too.
        for code in (streamed["code"], other["code"]):
            page.locator(f"[data-testid=camera-video][data-code='{code}'] "
                         "[data-testid=camera-video-close]").click()
        assert page.evaluate("window.__cameras.videos.live") == 0
        assert page.get_by_test_id("camera-video").count() == 0
        assert page.errors == []
        assert outside_requests(page, base) == []
    finally:
        page.context.close()


def test_an_alarm_arrives_live_is_acknowledged_and_made_a_case(
        browser: Any, cam_app: tuple[str, Any], streamed: dict[str, Any], api: httpx.Client,
        engine: sa.Engine) -> None:
    base, _ = cam_app
    page = console(browser, base, "dispatcher")
    try:
        page.get_by_test_id("camera-panel").wait_for(timeout=10_000)  # open for who acts
        page.wait_for_function("() => window.__cameras.alarms.loaded", timeout=20_000)
        page.wait_for_function("() => window.__live.currentState === 'connected'", timeout=20_000)
        page.wait_for_function("() => window.__live.stats.subscribed >= 2", timeout=20_000)
        alarm = post_alarm(api, streamed["code"], "intrusion", "围墙区域入侵（端到端）")
        item = page.locator(f"[data-testid=camera-alarm][data-alarm-id='{alarm['id']}']")
        item.wait_for(timeout=20_000)
        assert item.get_by_test_id("camera-alarm-kind").inner_text() == "区域入侵"
        assert page.locator("[data-testid=camera-alarm]").first.get_attribute(
            "data-alarm-id") == str(alarm["id"])  # newest first

        item.get_by_test_id("camera-alarm-ack").click()
        page.wait_for_selector(f"[data-alarm-id='{alarm['id']}'][data-state=acknowledged]",
                               timeout=10_000)
        with engine.connect() as conn:
            state, by = conn.execute(sa.text(
                "SELECT state, acknowledged_by FROM camera_alarms WHERE id = :i"),
                {"i": alarm["id"]}).one()
        assert (state, by) == ("acknowledged", "dispatcher")

        item.get_by_test_id("camera-alarm-to-case").click()
        form = item.get_by_test_id("camera-case-form")
        form.wait_for(timeout=10_000)
        item.get_by_test_id("camera-case-category").select_option("E0101")
        item.get_by_test_id("camera-case-submit").click()
        link = item.get_by_test_id("camera-alarm-case")
        link.wait_for(timeout=15_000)
        with engine.connect() as conn:
            case_no, source, category = conn.execute(sa.text(
                "SELECT i.case_no, i.source, i.category_code FROM camera_alarms a "
                "JOIN incidents i ON i.id = a.incident_id WHERE a.id = :i"),
                {"i": alarm["id"]}).one()
        assert case_no in link.inner_text() and (source, category) == ("video", "E0101")
        assert shot(page, "console-1920x1080-camera-alarm-case.png") > 5.0

        # The link opens the case on the desk.
        link.click()
        page.wait_for_function("(no) => document.querySelector('[data-testid=desk-detail]')"
                               "?.innerText.includes(no)", arg=case_no, timeout=20_000)
        assert page.errors == []
        assert outside_requests(page, base) == []
    finally:
        page.context.close()


def test_traffic_police_read_the_alarms_and_a_grid_worker_sees_no_cameras(
        browser: Any, cam_app: tuple[str, Any], streamed: dict[str, Any],
        api: httpx.Client) -> None:
    base, _ = cam_app
    alarm = post_alarm(api, streamed["code"], "crowd", "人员聚集（端到端）")
    page = console(browser, base, "traffic_police")
    try:
        page.get_by_test_id("cameras-toggle").click()
        item = page.locator(f"[data-testid=camera-alarm][data-alarm-id='{alarm['id']}']")
        item.wait_for(timeout=20_000)
        assert item.get_by_test_id("camera-alarm-kind").inner_text() == "人员聚集"
        assert item.get_by_test_id("camera-alarm-ack").count() == 0
        assert item.get_by_test_id("camera-alarm-to-case").count() == 0
        assert item.get_by_test_id("camera-alarm-play").count() == 1
        assert "只读" in page.get_by_test_id("camera-alarms").inner_text()
        assert page.errors == []
    finally:
        page.context.close()

    page = console(browser, base, "grid_worker")
    try:
        assert page.get_by_test_id("cameras-toggle").is_hidden()
        assert page.get_by_test_id("camera-column").is_hidden()
        assert page.evaluate("window.__cameras.alarms.loaded") is False
        assert not any("/api/cameras" in u for u in page.requests)
    finally:
        page.context.close()


def test_the_desk_lists_the_cameras_that_see_a_case_and_plays_one(
        browser: Any, cam_app: tuple[str, Any], streamed: dict[str, Any], api: httpx.Client,
        engine: sa.Engine, client: Any) -> None:
    """A case 20 m in front of the streamed camera, along its heading: inside its view (the
    server's own clipped view when the views refresher has computed it, else a plain sector
    written here as the cones service stores it)."""
    import math

    base, _ = cam_app
    with engine.connect() as conn:
        heading = conn.execute(sa.text("SELECT coalesce(direction_deg, 0) FROM cameras "
                                       "WHERE code = :c"), {"c": streamed["code"]}).scalar_one()
    a = math.radians(heading)
    lon = streamed["lon"] + 20 * math.sin(a) / (111_320 * math.cos(math.radians(streamed["lat"])))
    lat = streamed["lat"] + 20 * math.cos(a) / 111_320
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO camera_views (camera_id, view_no, heading_deg, fov_deg, range_m, status,"
            " geom) SELECT id, 0, :h, 60, 60, 'ok', ST_Multi(ST_MakePolygon(ST_MakeLine(ARRAY["
            "geom, ST_Project(geom::geography, 60, radians(:h - 30))::geometry,"
            " ST_Project(geom::geography, 60, radians(:h))::geometry,"
            " ST_Project(geom::geography, 60, radians(:h + 30))::geometry, geom])))"
            " FROM cameras WHERE code = :c ON CONFLICT (camera_id, view_no) DO NOTHING"),
            {"c": streamed["code"], "h": heading})
    case = api.post("/api/incidents", headers=bearer(client, "grid_worker"), json={
        "category_code": "E0101", "description": "摄像机可见（端到端）", "lon": lon,
        "lat": lat}).json()
    page = console(browser, base, "dispatcher")
    try:
        page.evaluate("window.__desk.setOpen(true)")
        page.evaluate("(id) => window.__desk.store.select(id)", case["id"])
        group = page.get_by_test_id("desk-group-cameras")
        group.wait_for(timeout=20_000)
        assert group.locator("summary").inner_text().startswith("能看到此处的摄像机")
        group.locator("summary").click()
        row = page.locator(f"[data-testid=desk-camera][data-code='{streamed['code']}']")
        row.wait_for(timeout=10_000)
        assert "米" in row.inner_text()
        assert "覆盖" in row.inner_text()  # the seeing answer's coverage share, as a percentage
        row.get_by_test_id("desk-camera-play").click()
        page.wait_for_function(VIDEO_HAS_DATA, arg=streamed["code"], timeout=180_000)
        drawn = page.evaluate("window.__desk.map.rendered()")
        assert any(d.get("kind") == "camera" and d.get("name") == streamed["code"] for d in drawn)
        assert shot(page, "desk-1920x1080-seeing-cameras.png") > 5.0
        assert page.errors == []
    finally:
        page.context.close()


def test_cones_of_the_selected_camera_and_all_from_zoom_17(
        browser: Any, cam_app: tuple[str, Any], streamed: dict[str, Any],
        api: httpx.Client, client: Any) -> None:
    layers = {la["id"] for la in client.get("/api/layers").json()["layers"]}
    if "cameras_view" not in layers:
        pytest.skip("the catalog has no cameras_view layer yet (it lands with the cones part)")
    base, _ = cam_app
    page = console(browser, base, "dispatcher")
    try:
        fly(page, streamed["lon"], streamed["lat"], 16)
        assert page.evaluate(RENDERED)["cones"] == []
        page.evaluate("(c) => window.__cameras.select(c)", streamed["code"])
        page.wait_for_function("(c) => window.__cameras.panel.camera?.code === c",
                               arg=streamed["code"], timeout=10_000)
        page.wait_for_function(WAIT_IDLE, timeout=60_000)
        assert page.evaluate(RENDERED)["cones"] == [streamed["code"]]
        fly(page, streamed["lon"], streamed["lat"], 17.5)
        assert streamed["code"] in page.evaluate(RENDERED)["cones"]
        assert page.errors == []
    finally:
        page.context.close()


@pytest.mark.parametrize(("size", "phone"), [((390, 844), True), ((3840, 2160), False)])
def test_the_video_and_camera_panels_at_a_phone_and_a_wall(
        browser: Any, cam_app: tuple[str, Any], streamed: dict[str, Any],
        size: tuple[int, int], phone: bool) -> None:
    base, _ = cam_app
    page = console(browser, base, "commander", size, phone=phone)
    try:
        fly(page, streamed["lon"], streamed["lat"] - 0.0004, 17.5)
        page.evaluate("(c) => window.__cameras.select(c)", streamed["code"])
        page.get_by_test_id("camera-play").wait_for(timeout=10_000)
        page.get_by_test_id("camera-play").click()
        page.wait_for_function(VIDEO_HAS_DATA, arg=streamed["code"], timeout=180_000)
        video = page.locator("[data-testid=camera-video]").bounding_box()
        panel = page.get_by_test_id("camera-panel").bounding_box()
        assert video and panel
        assert video["x"] >= 0 and video["x"] + video["width"] <= size[0] + 1
        assert video["y"] + video["height"] <= panel["y"] + 1  # stacked: video over the panel
        close = page.locator("[data-testid=camera-video-close]").bounding_box()
        assert close and close["width"] >= 20  # a finger can hit it
        assert shot(page, f"console-{size[0]}x{size[1]}-camera-video.png") > 5.0
        assert page.errors == []
    finally:
        page.context.close()
