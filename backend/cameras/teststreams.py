"""The demo's HLS test streams (示意 / synthetic video), made with ffmpeg for a handful of
cameras under settings.media_hls_dir/{code}/ and served by the app (GET /media/hls/...).

Each is a test pattern with the camera's name (Noto Sans CJK, found with fc-match), "示意
synthetic" and a clock, 640x360 at 10 fps, cut in 2 s segments (seg_000.ts ...) under a VOD
playlist (index.m3u8, with #EXT-X-ENDLIST) of `seconds` (60 by default).

Why VOD and not a live playlist: static files cannot make a live playlist that loops (a live
one must keep growing, or the player stalls at its end), and a process rewriting playlists
forever is one more thing to run on a two-core box for a demo. A 60 s VOD playlist is made once
in a few seconds and the console's player loops it (video.loop). The clock is the encoding
time plus the playback position (drawtext pts with a localtime offset): it runs like a
camera's clock for the minute and then starts over, which the 示意 label owns up to.

ffmpeg runs without a shell, with argument lists, in the stream's own scratch directory (so
that no path is escaped into a filter graph), bounded by a timeout; the finished directory
replaces the old one in two renames, so the server never serves half a stream.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from backend.cameras.media import BUILTIN, PLAYLIST, builtin_has_stream, stream_dir
from backend.errors import NotConfigured
from backend.settings import Settings

log = logging.getLogger("cityops.cameras.teststreams")

FONT_FAMILY = "Noto Sans CJK SC"
SIZE = "640x360"
FPS = 10
SEGMENT_S = 2
MAX_SECONDS = 600
LOCAL_TZ = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Made:
    code: str
    seconds: float  # wall time ffmpeg took
    segments: int


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg")


def font_file() -> Path:
    """The CJK font's file, as fontconfig resolves the family (NotConfigured without it)."""
    fc = shutil.which("fc-match")
    if fc is None:
        raise NotConfigured("fc-match (fontconfig) is missing: install the system packages "
                            "(make system)")
    found = subprocess.run([fc, FONT_FAMILY, "--format=%{file}"], capture_output=True,
                           text=True, timeout=10, check=False).stdout.strip()
    if not found or not Path(found).is_file() or "CJK" not in Path(found).name:
        raise NotConfigured(f"The font {FONT_FAMILY} is missing (fonts-noto-cjk): the test "
                            "streams need it for the cameras' names")
    return Path(found)


def _command(ffmpeg: str, seconds: int) -> list[str]:
    # The texts are files beside the output (no quoting of names into the filter graph);
    # the name's file is not expanded (a '%' in a name stays a '%').
    top = ("drawbox=x=0:y=0:w=iw:h=72:color=black@0.55:t=fill,"
           "drawtext=fontfile=font.ttc:textfile=name.txt:expansion=none:fontsize=22:"
           "fontcolor=white:x=14:y=8,"
           "drawtext=fontfile=font.ttc:textfile=clock.txt:fontsize=18:fontcolor=white@0.9:"
           "x=14:y=42")
    return [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate={FPS}:duration={seconds}",
            "-vf", top, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-crf", "30", "-g", str(FPS * SEGMENT_S), "-keyint_min", str(FPS * SEGMENT_S),
            "-sc_threshold", "0", "-f", "hls", "-hls_time", str(SEGMENT_S),
            "-hls_list_size", "0", "-hls_playlist_type", "vod",
            "-hls_segment_filename", "seg_%03d.ts", PLAYLIST]


def make_stream(settings: Settings, code: str, name: str, *, seconds: int = 60,
                timeout_s: float = 120.0) -> Made:
    """Make (or remake) the test stream of one camera. NotConfigured without ffmpeg or the
    font; RuntimeError when ffmpeg fails or runs past `timeout_s`."""
    if not 2 <= seconds <= MAX_SECONDS:
        raise ValueError(f"a test stream lasts 2 to {MAX_SECONDS} s, not {seconds}")
    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        raise NotConfigured("ffmpeg is missing: install the system packages (make system)")
    font = font_file()
    final = stream_dir(settings, code)  # ValueError for anything but a 20-digit id
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".make-{code}-", dir=final.parent))
    try:
        (work / "font.ttc").symlink_to(font)
        (work / "name.txt").write_text(name[:40], encoding="utf-8")
        # drawtext's pts function: offset (epoch s) + position, shown in local time
        epoch = int(time.time())
        (work / "clock.txt").write_text(
            f"{code}  %{{pts:localtime:{epoch}:%Y-%m-%d %H\\:%M\\:%S}}  示意 synthetic",
            encoding="utf-8")
        started = time.perf_counter()
        try:
            done = subprocess.run(_command(ffmpeg, seconds), cwd=work, capture_output=True,
                                  text=True, timeout=timeout_s, check=False,
                                  env={**os.environ, "TZ": LOCAL_TZ})
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"ffmpeg ran past {timeout_s:g} s making the stream of "
                               f"{code}") from None
        took = time.perf_counter() - started
        if done.returncode != 0 or not (work / PLAYLIST).is_file():
            raise RuntimeError(f"ffmpeg failed making the stream of {code}: "
                               f"{done.stderr.strip()[-500:]}")
        for helper in ("font.ttc", "name.txt", "clock.txt"):
            (work / helper).unlink()
        segments = len(list(work.glob("seg_*.ts")))
        _replace(work, final)
        return Made(code, took, segments)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _replace(new: Path, final: Path) -> None:
    """`new` becomes `final`; an old stream goes aside first, then away."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}-{time.monotonic_ns()}")
        final.rename(old)
    new.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def cameras_near(conn: sa.Connection, lon: float, lat: float, count: int
                 ) -> list[tuple[str, str]]:
    """(code, name) of the `count` cameras nearest a place, online ones first."""
    rows = conn.execute(sa.text(
        "SELECT code, coalesce(name, code) FROM cameras "
        "ORDER BY status <> 'online', geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) "
        "LIMIT :n"), {"lon": lon, "lat": lat, "n": count})
    return [(r[0], r[1]) for r in rows]


def make_demo_streams(settings: Settings, engine: sa.Engine, lon: float, lat: float, *,
                      count: int = 6, seconds: int = 60, remake: bool = False
                      ) -> list[Made]:
    """Streams for the `count` cameras nearest (lon, lat) that lack one (all with `remake`).
    Without ffmpeg or the font: a warning, and the cameras say they have no stream."""
    if settings.media_kind != BUILTIN:
        return []
    with engine.connect() as conn:
        chosen = cameras_near(conn, lon, lat, count)
    made = []
    for code, name in chosen:
        if not remake and builtin_has_stream(settings, code):
            continue
        try:
            made.append(make_stream(settings, code, name, seconds=seconds))
        except NotConfigured as missing:
            log.warning("no demo video streams: %s", missing)
            print(f"warning: no demo video streams: {missing}", flush=True)
            break
    return made
