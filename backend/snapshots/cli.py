"""`cityops snapshot --view NAME [--bbox w,s,e,n] [--zoom Z] [--lang zh|en] [--out FILE]
[--role ROLE]`: the same snapshot as the wall's button, made from the command line. It is kept
and registered like the others (audited as the OS account, backend/cli.py binds it) and, with
--out, also copied to FILE. It shows what ROLE may see (default viewer: the wall's read-only
account, so no personal field goes out in full)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("snapshot", help="save a view (overview or a domain) as one offline "
                                             "HTML file")
    parser.add_argument("--view", default="overview",
                        help="overview, or a domain view id (scenarios/sixian/domains)")
    parser.add_argument("--bbox", help="west,south,east,north (default: the county)")
    parser.add_argument("--zoom", type=float, default=11.0, help="the map's zoom (0-22)")
    parser.add_argument("--lang", choices=["zh", "en"], default="zh")
    parser.add_argument("--out", type=Path, help="also copy the file here")
    parser.add_argument("--role", default="viewer",
                        help="whose rights the snapshot is made with (default viewer)")
    parser.set_defaults(handler=cmd_snapshot)


def cmd_snapshot(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from backend.audit.actor import bound_actor
    from backend.auth.permissions import Role, principal_for
    from backend.catalog.layers import load_catalog
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade
    from backend.maps.service import county_bounds
    from backend.snapshots import service
    from backend.snapshots.schemas import SnapshotIn

    if args.role not in {r.value for r in Role}:
        print(f"cityops: --role {args.role!r} is not a role; roles: "
              f"{', '.join(r.value for r in Role)}")
        return 2
    upgrade(ensure_database(settings))
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        catalog = load_catalog(settings.layers_dir)
        county = county_bounds(engine)
        try:
            bbox = [float(v) for v in args.bbox.split(",")] if args.bbox else county
            request = SnapshotIn(view=args.view, bbox=bbox, zoom=args.zoom, lang=args.lang)
        except (ValueError, ValidationError) as exc:
            print(f"cityops: {exc}".splitlines()[0])
            return 2
        actor = bound_actor() or "cli"
        principal = principal_for(None, actor, actor, [args.role])
        views = None
        if args.view != "overview":
            from backend.domains.service import load_views

            views = load_views(settings, catalog)
        made = service.take(engine, options=service.Options.of(settings), catalog=catalog,
                            views=views, principal=principal, request=request, county=county)
        path = service.Options.of(settings).directory / made["file_name"]
        if args.out:
            shutil.copyfile(path, args.out)
            path = args.out
        print(f"snapshot {made['id']}: {made['title']} -> {path} ({made['bytes']:,} bytes, "
              f"sha256 {made['sha256'][:12]}…)")
        return 0
    finally:
        engine.dispose()
