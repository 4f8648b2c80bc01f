"""`cityops ingest FILE`: a vector file into a map layer's table, a GeoTIFF into a raster
(cog or dem) layer, a camera register into the cameras layer (backend.cameras.cli), or a file as
a catalog dataset's new version (--dataset: backend.exchange.cli)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from backend.audit.actor import cli_actor
from backend.errors import CityOpsError, InvalidInput

if TYPE_CHECKING:
    from backend.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`cityops ingest FILE --layer ID | --dataset ID`."""
    ingest = sub.add_parser("ingest", help="load a GeoJSON/GeoPackage/zipped Shapefile/CSV file, "
                                           "a GeoTIFF into a raster (cog or dem) layer, or a "
                                           "camera register (.csv/.json, --layer cameras)")
    ingest.add_argument("file")
    ingest.add_argument("--layer", help="the catalog layer to load into")
    ingest.add_argument("--dataset", help="instead of --layer: a data catalog dataset, the file "
                                          "becomes its new version (CSV/XLSX/GeoJSON/GPKG/zip)")
    ingest.add_argument("--crs", help="the file's CRS when it declares none (e.g. 4548)")
    ingest.add_argument("--from-gcj02", action="store_true",
                        help="coordinates are GCJ-02 (Chinese web maps): convert back to WGS84")
    ingest.add_argument("--source", help="source name (default file:<file stem>)")
    ingest.add_argument("--key", help="the column that identifies a feature within its source")
    ingest.add_argument("--append", action="store_true",
                        help="keep this source's features missing from the file")
    ingest.add_argument("--report", help="write the report (JSON + rejected rows CSV) here")
    ingest.add_argument("--max-reject-ratio", type=float, default=0.0,
                        help="share of rejected rows tolerated before the file fails (default 0)")
    ingest.add_argument("--file-layer", help="GeoPackage layer / Shapefile name inside a zip")
    ingest.add_argument("--encoding", help="CSV/DBF text encoding")
    ingest.add_argument("--x-field", help="CSV longitude/x column")
    ingest.add_argument("--y-field", help="CSV latitude/y column")
    ingest.add_argument("--map", action="append", metavar="FILECOL=COLUMN",
                        help="rename a file column to a table column (repeatable)")
    ingest.add_argument("--outside-county", action="store_true",
                        help="raster: accept a file that does not touch the county")
    ingest.set_defaults(handler=cmd_ingest)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cameras.cli import import_register_file, is_register
    from backend.catalog.layers import load_catalog, model_columns
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade
    from backend.ingest.files import ingest_file

    if args.dataset:  # a version of a catalog dataset: backend.exchange
        from backend.exchange.cli import ingest_dataset

        return ingest_dataset(args, settings)
    if not args.layer:
        print("cityops: ingest needs --layer LAYER (a map layer) or --dataset ID (a catalog "
              "dataset's new version)", file=sys.stderr)
        return 2
    if is_register(Path(args.file), args.layer):  # a camera register: backend.cameras.registry
        return import_register_file(args, settings)
    upgrade(ensure_database(settings))
    catalog = load_catalog(settings.layers_dir, known_columns=model_columns())
    spec = catalog.get(args.layer)
    if spec is not None and spec.kind in ("cog", "dem"):
        return _ingest_raster(args, settings, spec.kind)
    columns = dict(pair.split("=", 1) for pair in args.map or [])
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        result = ingest_file(
            engine, catalog, Path(args.file),
            layer_id=args.layer, crs=args.crs, from_gcj02=args.from_gcj02, source=args.source,
            key_field=args.key, append=args.append,
            report_path=Path(args.report) if args.report else None,
            max_reject_ratio=args.max_reject_ratio, layer=args.file_layer,
            encoding=args.encoding, x_field=args.x_field, y_field=args.y_field,
            actor=cli_actor(),
            columns=columns or None,
        )
    finally:
        engine.dispose()
    print(result.summary())
    return 0


def _ingest_raster(args: argparse.Namespace, settings: Settings, kind: str) -> int:
    """The raster branch of `cityops ingest`: a GeoTIFF into a cog (imagery) or dem layer."""
    from backend.db.engine import create_engine, resolve_urls
    from backend.ingest.raster import ingest_raster
    from backend.ingest.raster_report import RasterReport

    vector_only = [flag for flag, used in (("--crs", args.crs), ("--from-gcj02", args.from_gcj02),
                                           ("--key", args.key), ("--append", args.append),
                                           ("--map", args.map)) if used]
    if vector_only:
        raise InvalidInput(f"{', '.join(vector_only)}: only for vector files. A raster's CRS "
                           "comes from the file (set a missing one with `gdal_edit.py -a_srs "
                           "EPSG:4548 FILE`).")
    def write_report(report: RasterReport) -> None:
        if args.report:
            Path(args.report).write_text(json.dumps(report.to_dict(), ensure_ascii=False,
                                                    indent=2) + "\n", encoding="utf-8")

    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        report = ingest_raster(
            engine, Path(args.file), layer_id=args.layer, kind=kind,  # type: ignore[arg-type]
            raster_dir=settings.raster_dir, max_bytes=settings.raster_max_bytes,
            actor=cli_actor(), within_county=not args.outside_county)
    except CityOpsError as exc:  # the report of a refusal says how far the checks got
        failed = exc.detail.get("report")
        if isinstance(failed, RasterReport):
            write_report(failed)
        raise
    finally:
        engine.dispose()
    write_report(report)
    print(report.summary())
    return 0
