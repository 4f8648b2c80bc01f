"""Play links and the builtin test streams: the URL pattern of each media server kind, the
signature (expiry, tampering), and a stream made by the real ffmpeg, served with its token
(playlist, then a segment by the playlist's relative name), refused without it, audited."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.cameras import media
from backend.cameras.media import has_stream
from backend.cameras.teststreams import make_stream
from backend.settings import Settings
from tests.conftest import bearer

CODE = "34132400001320000001"
OTHER = "34132400001320000002"
NOW = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)


def links(kind: str = "builtin", **settings: object) -> media.MediaLinks:
    return media.MediaLinks(Settings(env="test", media_kind=kind, media_link_secret="s3cret",
                                     media_link_ttl_s=300, **settings))


@pytest.mark.parametrize(("kind", "hls", "whep"), [
    ("go2rtc", "http://media:1984/api/stream.m3u8?src={c}&token=",
     "http://media:1984/api/webrtc?src={c}&token="),
    ("zlmediakit", "http://media:1984/rtp/{c}/hls.m3u8?token=",
     "http://media:1984/index/api/whep?app=rtp&stream={c}&token="),
    ("mediamtx", "http://media:1984/{c}/index.m3u8?token=", "http://media:1984/{c}/whep?token="),
])
def test_each_media_server_kinds_pattern(kind: str, hls: str, whep: str) -> None:
    signer = links(kind, media_base_url="http://media:1984/")
    assert signer.has_stream(CODE)  # a media server can play any camera of the registry
    for protocol, expected in (("hls", hls), ("whep", whep)):
        link = signer.link(CODE, protocol, now=NOW)
        prefix = expected.format(c=CODE)
        assert link.url.startswith(prefix), link.url
        token = link.url[len(prefix):]
        signer.check(token, CODE, protocol, now=NOW)
        assert link.expires_at == NOW + timedelta(seconds=300)


def test_templates_are_configured_not_hard_coded() -> None:
    signer = links("mediamtx", media_base_url="https://video.example",
                   media_hls_template="{base}/live/{code}.m3u8?auth={token}&e={expires}",
                   media_whep_template="{base}/w/{code}")
    hls = signer.link(CODE, "hls", now=NOW).url
    assert hls.startswith(f"https://video.example/live/{CODE}.m3u8?auth=")
    assert "&token=" not in hls  # the template placed the token itself
    assert hls.endswith(f"&e={int(NOW.timestamp()) + 300}")
    assert signer.link(CODE, "whep", now=NOW).url.startswith(
        f"https://video.example/w/{CODE}?token=")


def test_builtin_puts_the_token_in_the_path(tmp_path: Path) -> None:
    signer = links(media_hls_dir=tmp_path)
    with pytest.raises(media.NoStream):
        signer.link(CODE, "hls", now=NOW)  # no stream made for it
    (tmp_path / CODE).mkdir()
    (tmp_path / CODE / "index.m3u8").write_text("#EXTM3U\n")
    url = signer.link(CODE, "hls", now=NOW).url
    prefix, token, code, name = url.rsplit("/", 3)
    assert (prefix, code, name) == ("/media/hls", CODE, "index.m3u8")
    signer.check(token, CODE, "hls", now=NOW)
    with pytest.raises(media.NoStream, match="HLS only"):
        signer.link(CODE, "whep", now=NOW)
    assert signer.streams([CODE, OTHER]) == {CODE: True, OTHER: False}


def test_tampered_expired_and_malformed_tokens_are_refused_and_counted() -> None:
    signer = links()
    expires = int(NOW.timestamp()) + 300
    token = f"{expires}.{media._sign(signer.secret, CODE, 'hls', expires)}"
    signer.check(token, CODE, "hls", now=NOW)
    cases = {
        "another camera": (token, OTHER, "hls", NOW, "bad_signature"),
        "another protocol": (token, CODE, "whep", NOW, "bad_signature"),
        "a later expiry": (f"{expires + 3600}.{token.split('.')[1]}", CODE, "hls", NOW,
                           "bad_signature"),
        "a flipped character": (token[:-1] + ("A" if token[-1] != "A" else "B"), CODE, "hls",
                                NOW, "bad_signature"),
        "expired": (token, CODE, "hls", NOW + timedelta(seconds=301), "expired"),
        "just expired": (token, CODE, "hls", NOW + timedelta(seconds=300), "expired"),
        "empty": ("", CODE, "hls", NOW, "malformed"),
        "no dot": (token.replace(".", ""), CODE, "hls", NOW, "malformed"),
        "huge": ("9" * 10_000 + "." + "A" * 43, CODE, "hls", NOW, "malformed"),
        "padded": (token + "=", CODE, "hls", NOW, "malformed"),
        "path": ("../../etc/passwd", CODE, "hls", NOW, "malformed"),
    }
    for what, (bad, code, protocol, at, reason) in cases.items():
        with pytest.raises(media.LinkRefused) as refused:
            signer.check(bad, code, protocol, now=at)  # type: ignore[arg-type]
        assert refused.value.reason == reason, what
    assert signer.refusals == {"bad_signature": 4, "expired": 2, "malformed": 5}
    # another secret (another process without media_link_secret) signs differently
    other = media.MediaLinks(Settings(env="test"))
    assert other.secret != media.MediaLinks(Settings(env="test")).secret
    with pytest.raises(media.LinkRefused):
        other.check(token, CODE, "hls", now=NOW)


def test_has_stream_follows_the_kind(tmp_path: Path) -> None:
    builtin = Settings(env="test", media_hls_dir=tmp_path)
    assert not has_stream(builtin, CODE)
    assert has_stream(builtin.model_copy(update={"media_kind": "go2rtc"}), CODE)
    assert not has_stream(builtin, "../../../etc")


# The real thing: ffmpeg makes a stream; the app serves it behind the token -----------------

@pytest.fixture(scope="module")
def stream(video_settings: Settings, video_cameras: list[dict]) -> dict:
    """The first camera's test stream, made by ffmpeg (a few seconds)."""
    camera = video_cameras[0]
    made = make_stream(video_settings, camera["code"], camera["name"], seconds=6)
    assert made.segments == 3
    return {**camera, "made": made}


def play(client: TestClient, code: str, headers: dict | None = None,
         protocol: str = "hls") -> object:
    return client.post(f"/api/cameras/{code}/play", json={"protocol": protocol},
                       headers=headers or {})


def test_ffmpeg_makes_a_stream_the_player_can_fetch(video_client: TestClient, stream: dict,
                                                    video_settings: Settings,
                                                    engine: Engine) -> None:
    code = stream["code"]
    assert video_client.get(f"/api/cameras/{code}").json()["has_stream"] is True
    answer = play(video_client, code)
    assert answer.status_code == 200, answer.text
    link = answer.json()
    assert link["url"].startswith("/media/hls/") and link["url"].endswith(
        f"/{code}/index.m3u8")
    assert link["protocol"] == "hls"
    expires = datetime.fromisoformat(link["expires_at"])
    assert 50 <= (expires - datetime.now(UTC)).total_seconds() <= 61  # media_link_ttl_s 60

    playlist = video_client.get(link["url"])
    assert playlist.status_code == 200, playlist.text
    assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert playlist.headers["cache-control"] == "no-cache"
    lines = playlist.text.splitlines()
    assert lines[0] == "#EXTM3U"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines and lines[-1] == "#EXT-X-ENDLIST"
    segments = [x for x in lines if x and not x.startswith("#")]
    assert segments == ["seg_000.ts", "seg_001.ts", "seg_002.ts"]
    # a player resolves the segment against the playlist's URL: the token comes along
    segment_url = link["url"].rsplit("/", 1)[0] + "/" + segments[1]
    segment = video_client.get(segment_url)
    assert segment.status_code == 200
    assert segment.headers["content-type"] == "video/mp2t"
    assert segment.content[:1] == b"\x47" and len(segment.content) % 188 == 0  # MPEG-TS

    # what ffmpeg made is the video promised: 640x360 H.264, 2 s a segment
    probe = subprocess.run(
        [shutil.which("ffprobe") or "ffprobe", "-v", "error", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,width,height:format=duration", "-of", "json",
         str(Path(video_settings.media_hls_dir) / code / "seg_001.ts")],
        capture_output=True, text=True, timeout=30, check=True)
    info = json.loads(probe.stdout)
    assert info["streams"][0] == {"codec_name": "h264", "width": 640, "height": 360}
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.25)

    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT actor, data FROM audit_log WHERE action = 'camera.play' "
            "AND entity = 'camera' AND entity_id = :c ORDER BY id DESC LIMIT 1"),
            {"c": code}).one()
    assert row.actor == "admin"
    assert row.data["protocol"] == "hls"


def test_no_token_no_video(video_client: TestClient, stream: dict) -> None:
    code = stream["code"]
    url = play(video_client, code).json()["url"]
    token = url.split("/")[3]
    links = video_client.app.state.camera_media
    before = dict(links.refusals)
    past = links.link(code, "hls", now=datetime.now(UTC) - timedelta(seconds=120))
    other = next(c for c in ("34132400001320000009", OTHER) if c != code)
    refused = {
        "no token": f"/media/hls/x/{code}/index.m3u8",
        "another camera's": f"/media/hls/{token}/{other}/index.m3u8",
        "expired": past.url,
        "forged": f"/media/hls/{token[:-2]}xx/{code}/seg_000.ts",
    }
    for what, bad in refused.items():
        answer = video_client.get(bad)
        assert answer.status_code == 403, (what, answer.status_code)
        assert "play link" in answer.json()["detail"], what
    assert "expired" in video_client.get(past.url).json()["detail"]
    after = links.refusals
    assert after["expired"] - before.get("expired", 0) == 2
    assert after["malformed"] - before.get("malformed", 0) == 1
    assert after["bad_signature"] - before.get("bad_signature", 0) == 2
    metrics = video_client.get("/metrics").text
    assert 'cityops_camera_media_refused_total{reason="expired"}' in metrics
    # the token is the credential: no session is needed, and none is enough without it
    assert TestClient(video_client.app).get(url).status_code == 200
    assert video_client.get(f"/media/hls/x/{code}/index.m3u8").status_code == 403


def test_only_the_streams_own_files(video_client: TestClient, video_settings: Settings,
                                    stream: dict) -> None:
    code = stream["code"]
    base = play(video_client, code).json()["url"].rsplit("/", 1)[0]
    outside = Path(video_settings.media_hls_dir).parent / "secret.ts"
    outside.write_bytes(b"not for you")
    trap = Path(video_settings.media_hls_dir) / code / "seg_999.ts"
    trap.symlink_to(outside)
    try:
        for name in ("..%2F..%2Fsecret.ts", "%2E%2E%2Fsecret.ts", "seg_1.ts", "seg_0000.ts",
                     "index.m3u", "INDEX.M3U8", "seg_000.ts.bak", "seg_999.ts", "..",
                     "seg_003.ts"):
            answer = video_client.get(f"{base}/{name}")
            assert answer.status_code in (404, 422), (name, answer.status_code)
            assert b"not for you" not in answer.content
        for path in (f"{base}/../../{code}/secret.ts", f"{base}/sub/index.m3u8"):
            assert video_client.get(path).status_code == 404
    finally:
        trap.unlink()


def test_play_refusals(video_client: TestClient, video_cameras: list[dict],
                       stream: dict) -> None:
    without = next(c["code"] for c in video_cameras if c["code"] != stream["code"])
    missing = play(video_client, without)
    assert missing.status_code == 404
    assert "No stream" in missing.json()["detail"]
    assert play(video_client, "34132400001329999999").status_code == 404
    whep = play(video_client, stream["code"], protocol="whep")
    assert whep.status_code == 404 and "HLS only" in whep.json()["detail"]
    assert play(video_client, stream["code"], protocol="rtsp").status_code == 422
    assert play(video_client, stream["code"],
                headers=bearer(video_client, "grid_worker")).status_code == 403
    assert play(video_client, stream["code"],
                headers=bearer(video_client, "traffic_police")).status_code == 200
    # no body: HLS
    assert video_client.post(f"/api/cameras/{stream['code']}/play").status_code == 200


def test_the_demo_makes_streams_near_the_seat(video_settings: Settings, engine: Engine,
                                              video_cameras: list[dict],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    from backend.cameras.teststreams import cameras_near, make_demo_streams
    from backend.county import load_recipe

    seat = load_recipe().county.seat
    local = video_settings.model_copy(update={"media_hls_dir": tmp_path / "hls"})
    made = make_demo_streams(local, engine, seat.lon, seat.lat, count=2, seconds=4)
    with engine.connect() as conn:
        nearest = [c for c, _ in cameras_near(conn, seat.lon, seat.lat, 2)]
    assert len(nearest) == 2
    assert [m.code for m in made] == nearest
    assert all(m.segments == 2 and m.seconds < 60 for m in made)
    assert media.builtin_streams(local) == set(nearest)
    # made once: a second run leaves them
    assert make_demo_streams(local, engine, seat.lon, seat.lat, count=2, seconds=4) == []
    # without ffmpeg: a warning, no stream, no failure
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    bare = local.model_copy(update={"media_hls_dir": tmp_path / "none"})
    with caplog.at_level("WARNING", logger="cityops.cameras.teststreams"):
        assert make_demo_streams(bare, engine, seat.lon, seat.lat, count=2, seconds=4) == []
    assert "no demo video streams: ffmpeg is missing" in caplog.text
    assert media.builtin_streams(bare) == set()
    # a media server plays every camera: nothing to make
    server = local.model_copy(update={"media_kind": "go2rtc"})
    assert make_demo_streams(server, engine, seat.lon, seat.lat) == []


def test_a_template_can_name_the_registering_device() -> None:
    signer = links("zlmediakit", media_base_url="http://zlm",
                   media_hls_template="{base}/rtp/{parent}_{code}/hls.m3u8")
    nvr = "34132400001180000001"
    assert signer.link(CODE, "hls", now=NOW, parent=nvr).url.startswith(
        f"http://zlm/rtp/{nvr}_{CODE}/hls.m3u8?token=")
    assert signer.link(CODE, "hls", now=NOW).url.startswith(
        f"http://zlm/rtp/{CODE}_{CODE}/hls.m3u8?token=")  # an IPC registers itself


def test_an_hls_client_plays_it_over_http(video_settings: Settings, video_client: TestClient,
                                          stream: dict) -> None:
    """ffmpeg as the player, over a real socket: it reads the playlist at the signed address
    and follows its relative segment names, the token carried in the path."""
    from backend.main import create_app
    from tests.conftest import serve_app

    link = play(video_client, stream["code"]).json()
    with serve_app(create_app(video_settings)) as base:  # the same link secret
        probe = subprocess.run(
            [shutil.which("ffprobe") or "ffprobe", "-v", "error", "-show_entries",
             "format=duration:stream=width,height", "-of", "json", base + link["url"]],
            capture_output=True, text=True, timeout=60, check=False)
        assert probe.returncode == 0, probe.stderr
        info = json.loads(probe.stdout)
        assert float(info["format"]["duration"]) == pytest.approx(6.0, abs=0.3)
        assert info["streams"][0]["width"] == 640
        refused = subprocess.run(
            [shutil.which("ffprobe") or "ffprobe", "-v", "error",
             base + link["url"].replace("/hls/", "/hls/1.x", 1)],
            capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode != 0
        assert "403" in refused.stderr
