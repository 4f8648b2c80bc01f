"""`cityops demo`: make sure the Sixian demo county is loaded (built once, then reused)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import sqlalchemy as sa

from backend.db.engine import create_engine, resolve_urls
from backend.db.models import FEATURE_TABLES
from backend.errors import Conflict
from backend.settings import Settings

DEMO_SOURCE = "demo:sixian"


def _counts(conn: sa.Connection) -> tuple[int, int]:
    """(rows from the demo source, rows from any other source) over all feature tables."""
    demo = other = 0
    for model in FEATURE_TABLES:
        table = model.__table__
        row = conn.execute(
            sa.select(
                sa.func.count().filter(table.c.source == DEMO_SOURCE),
                sa.func.count().filter(table.c.source != DEMO_SOURCE),
            )
        ).one()
        demo, other = demo + row[0], other + row[1]
    return demo, other


def prepare_demo(
    settings: Settings, *, scale: float = 1.0, force: bool = False, regenerate: bool = False
) -> dict[str, int]:
    from backend.county import build_county, load_county, load_recipe

    urls = resolve_urls(settings)
    engine = create_engine(urls.app, pool_size=1)
    try:
        with engine.connect() as conn:
            demo_rows, other_rows = _counts(conn)
        if demo_rows and not regenerate:
            print(
                f"demo county already loaded ({demo_rows} features); "
                "use --regenerate to rebuild it",
                flush=True,
            )
            return {}
        if not urls.managed and other_rows and not force:
            raise Conflict(
                f"The database at DATABASE_URL already holds {other_rows} features from other "
                "sources; refusing to load the demo county into it. Use --force to load anyway."
            )
        t0 = time.perf_counter()
        county = build_county(load_recipe(), scale=scale)
        t1 = time.perf_counter()
        counts = load_county(engine, county, replace=True)
        analyze_as_owner(urls.admin, list(counts))
        t2 = time.perf_counter()
        warm_glyphs(settings, engine)
    finally:
        engine.dispose()
    width = max(len(k) for k in counts)
    print(
        f"Sixian demo county (scale {scale}): built in {t1 - t0:.1f} s, loaded in {t2 - t1:.1f} s",
        flush=True,
    )
    for table, n in counts.items():
        print(f"  {table:<{width}}  {n:>8,}", flush=True)
    return counts


def prepare_demo_rasters(settings: Settings) -> None:
    """Render the demo's orthophotos and DEM (示意 / synthetic) from the loaded county into
    var/demo-rasters/ and load them through the raster ingest. A file already rendered from
    the same data, and already registered from that file, is neither rendered nor loaded
    again."""
    from backend.county.rasters import render_demo_rasters

    out_dir = settings.var_dir / "demo-rasters"
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        t0 = time.perf_counter()
        done = render_demo_rasters(engine, out_dir)
        t1 = time.perf_counter()
        fresh = [r.layer_id for r in done if r.seconds > 0]
        print(f"demo rasters (示意/synthetic): rendered {', '.join(fresh) or 'none'} in "
              f"{t1 - t0:.1f} s", flush=True)
        loaded = _load_demo_rasters(settings, engine, done, out_dir)
        print(f"demo rasters: loaded {', '.join(loaded) or 'none'} in "
              f"{time.perf_counter() - t1:.1f} s (unchanged ones are kept)", flush=True)
    finally:
        engine.dispose()


def _load_demo_rasters(settings: Settings, engine: sa.Engine, rendered: list,
                       out_dir: Path) -> list[str]:
    """Ingest each rendered file whose layer does not serve the COG made from it already."""
    from backend.county.rasters import MANIFEST, read_manifest, write_manifest
    from backend.ingest.raster import ingest_raster
    from backend.rasters.service import lookup

    manifest = read_manifest(out_dir / MANIFEST)
    loaded = []
    for r in rendered:
        entry = manifest.setdefault(r.layer_id, {})
        current = lookup(engine, r.layer_id)
        if (current is not None and entry.get("registered_from") == r.sha256
                and entry.get("registered") == current.sha256):
            continue
        report = ingest_raster(engine, r.path, layer_id=r.layer_id, kind=r.kind,
                               raster_dir=settings.raster_dir,
                               max_bytes=settings.raster_max_bytes, actor="demo")
        entry.update(registered=report.sha256, registered_from=r.sha256)
        write_manifest(out_dir / MANIFEST, manifest)
        loaded.append(r.layer_id)
        print(f"  {r.layer_id:<13} {report.out_width}x{report.out_height} px EPSG:3857, "
              f"z{report.minzoom}-{report.maxzoom}, {report.bytes_out / 1e6:.1f} MB, "
              f"loaded in {report.duration_s:.1f} s", flush=True)
    return loaded


def analyze_as_owner(admin_url: str, tables: list[str]) -> None:
    """Fresh planner statistics now (the app role may not ANALYZE tables it does not own)."""
    from backend.county.load import analyze

    admin = create_engine(admin_url, pool_size=1)
    try:
        analyze(admin, tables)
    finally:
        admin.dispose()


def warm_glyphs(settings: Settings, engine: sa.Engine) -> None:
    """Render the label glyphs once now rather than on the first page view."""
    from backend.catalog.layers import load_catalog
    from backend.maps.labels import DEFAULT_FONTSTACK, glyph_store, label_ranges

    store = glyph_store(settings)
    if store is not None:
        store.warm(
            DEFAULT_FONTSTACK, sorted(label_ranges(engine, load_catalog(settings.layers_dir)))
        )


# The demo's users, one per role: (user name, display name, roles); the handler works for
# 县城市管理局 (the unit most categories go to), the police officer for 交警大队.
DEMO_DEPARTMENTS = {"handler": "CGJ", "police": "JJDD", "steward": "CGJ", "bureau": "SJJ",
                    "popofficer": "GAJ"}
DEMO_USERS = [
    ("admin", "系统管理员", ["admin"]),
    ("commander", "指挥中心值班长", ["commander"]),
    ("supervisor", "监督中心受理员", ["supervisor"]),
    ("dispatcher", "调度员", ["dispatcher"]),
    ("grid01", "网格员（泗城镇01）", ["grid_worker"]),
    ("handler", "城管局办件人", ["department_handler"]),
    ("police", "交警指挥员", ["traffic_police"]),
    ("steward", "城管局数据管理员", ["data_steward"]),
    ("bureau", "数据资源管理局", ["data_bureau"]),
    ("popofficer", "公安局人口管理民警", ["population_officer"]),
    ("viewer", "大屏展示", ["viewer"]),
]


def seed_demo_users(engine: sa.Engine) -> dict[str, str]:
    """Create the demo users that do not exist yet, each with a fresh random password, and
    return {user name: password} of those created (shown once; only hashes are stored)."""
    from backend.auth.users import create_user

    created: dict[str, str] = {}
    with engine.begin() as conn:
        existing = set(conn.execute(sa.text("SELECT username FROM users")).scalars())
        for username, display, roles in DEMO_USERS:
            if username in existing:
                continue
            password = secrets.token_urlsafe(9)
            create_user(conn, username, password, roles, display_name=display,
                        department=DEMO_DEPARTMENTS.get(username))
            created[username] = password
    return created


def print_demo_users(created: dict[str, str]) -> None:
    if not created:
        print("demo users exist already (reset a password: cityops users passwd NAME)",
              flush=True)
        return
    print("Demo users (passwords are shown only this once; cityops users passwd NAME resets):",
          flush=True)
    for username, password in created.items():
        print(f"  {username:<11} {password}", flush=True)


def prepare_demo_streams(settings: Settings, *, count: int = 6) -> None:
    """HLS test streams (示意) for the cameras nearest the county seat, made once; skipped
    with a warning when ffmpeg or the CJK font is missing (those cameras say "no stream")."""
    from backend.cameras.teststreams import make_demo_streams
    from backend.county import load_recipe

    seat = load_recipe().county.seat
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        made = make_demo_streams(settings, engine, seat.lon, seat.lat, count=count)
    finally:
        engine.dispose()
    if made:
        took = sum(m.seconds for m in made)
        print(f"demo video: {len(made)} test streams in {took:.1f} s "
              f"({settings.media_hls_dir})", flush=True)
