"""Typed settings from the environment (prefix CITYOPS_; DATABASE_URL is also read plainly)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_HUB_TOKEN = "cityops-dev"  # documented development-only websocket token
DEV_INGEST_TOKEN = "cityops-dev-ingest"  # documented development-only GPS ingest token


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYOPS_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    # With no URL the managed local PostGIS under var/ is used (backend.db.local).
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("CITYOPS_DATABASE_URL", "DATABASE_URL")
    )
    database_name: str = "cityops"
    var_dir: Path = PROJECT_ROOT / "var"
    layers_dir: Path = PROJECT_ROOT / "layers"
    scenarios_dir: Path = PROJECT_ROOT / "scenarios"
    frontend_dist: Path = PROJECT_ROOT / "frontend" / "dist"
    font_file: Path | None = None  # a CJK TTF/OTF for map glyphs; found on the system when unset
    host: str = "127.0.0.1"
    port: int = 8000
    # HTTPS: phones give a page GPS and the camera only over HTTPS (or on loopback), so serve
    # the grid workers' /report over TLS on the intranet: a PEM certificate (chain) and its key.
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    db_pool_size: int = 10
    # Tile service
    tile_cache_bytes: int = 256 * 1024 * 1024
    tile_cache_enabled: bool = True
    # How long a read of the layers' data versions is trusted before asking the database again.
    # 0 asks on every tile (tests); a CLI ingest in another process is seen within this time.
    tile_version_ttl_s: float = 1.0
    tile_max_age_s: int = 60
    public_url: str | None = None  # base URL used in TileJSON and OGC links; request's when unset
    # Login sessions (cookie or bearer token) last one dispatcher shift.
    session_ttl_h: float = 12.0
    # Failed logins (backend/auth/guard.py, kept in PostgreSQL): within the window, at most
    # this many per user name and per client address, then 429 with Retry-After. Behind a
    # reverse proxy the address is the proxy's unless uvicorn trusts its forwarded headers
    # (--forwarded-allow-ips). Password hashing (argon2id, ~64 MiB each) runs at most
    # login_hash_concurrency at once; a login waiting longer than login_hash_wait_s is 503.
    login_window_s: float = Field(default=300.0, gt=0)
    login_max_failures_per_name: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=30, ge=1)
    login_hash_concurrency: int = Field(default=4, ge=1)
    login_hash_wait_s: float = Field(default=5.0, ge=0)
    # Live sockets of users are re-checked against their sessions this often (expiry, and
    # revocations made where no backplane message reached, e.g. the CLI on memory://).
    hub_session_check_s: float = Field(default=15.0, gt=0)
    # Live event hub (/ws). memory:// is one process; redis://host:port/db shares events,
    # sequence numbers and history between processes.
    hub_backplane_url: str = "memory://"
    # Interim auth until users and roles: clients send this token in their first message.
    # Required in production; in development DEV_HUB_TOKEN is used when unset.
    hub_token: str | None = None
    hub_history: int = 1000  # events kept per channel for resume (`since`)
    hub_client_queue: int = 256  # non-position events queued per client (drop-oldest)
    hub_position_queue: int = 10_000  # vehicles whose latest position a client may have queued
    hub_heartbeat_s: float = 20.0  # ping interval; no answer within it closes the client
    hub_auth_timeout_s: float = 5.0  # time allowed for the first (auth) message

    # GPS ingest. HTTP batches need `Authorization: Bearer <ingest_token>` (required in
    # production). JT/T 808 terminals need no shared secret: only terminals in the fleet
    # register may register, each registration gets a random code (`cityops terminals`).
    ingest_token: str | None = None
    jt808_enabled: bool = False  # run the JT/T 808 gateway inside the server process
    jt808_host: str = "127.0.0.1"
    jt808_port: int = 7808
    # How often live terminal sessions are checked against revocation and re-registration.
    jt808_recheck_s: float = 5.0
    positions_partition_window_days: int = 7
    # Polygon layers (ids from layers/) whose features are geofences for enter/exit alarms.
    vehicle_geofence_layers: list[str] = []
    # GPS over MQTT (backend.ingest.mqtt): subscribe to mqtt_topic (QoS 1) on the broker at
    # mqtt_url, e.g. mqtt://user:pass@127.0.0.1:1883 (mqtts:// for TLS); None disables the feed.
    # A payload is one JSON position record or an array of them (the HTTP records' fields);
    # a record without vehicle_id takes the topic's last level (cityops/positions/<vehicle_id>).
    # The client id names the broker session: give each server process its own.
    mqtt_url: str | None = None
    mqtt_topic: str = "cityops/positions/#"
    mqtt_client_id: str = "cityops-ingest"
    # Grid incidents: the county's case categories and one work calendar file per year.
    case_categories: Path = PROJECT_ROOT / "scenarios" / "sixian" / "case_categories.yaml"
    work_calendars: list[Path] = [PROJECT_ROOT / "scenarios" / "sixian" / "work_calendar_2026.yaml"]
    supervision_interval_s: float = 60.0  # how often overdue cases are looked for (督办)
    photo_max_bytes: int = 8 * 1024 * 1024  # an uploaded photo's size limit (413 beyond)
    # Request bodies are bounded before anything parses them (backend.api.limits), per class of
    # route: JSON API requests (logins, cases, steps, users), GPS batches (POST
    # /api/ingest/positions); photos use photo_max_bytes (+ room for the multipart envelope).
    # A larger body is refused with 413 as soon as its declared or streamed size passes it.
    json_body_max_bytes: int = Field(default=64 * 1024, ge=1024)
    gps_body_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    photos_dir: Path = PROJECT_ROOT / "var" / "photos"  # photos, named by their SHA-256
    photo_max_pixels: int = 50_000_000  # refused from the header, before decoding (413)
    photo_max_decodes: int = 2  # photos decoded at once; more wait up to photo_decode_wait_s
    photo_decode_wait_s: float = 5.0  # then 503 (about 150 MB per 50 MP photo being decoded)
    # Raster layers (`cityops ingest FILE.tif --layer ID`): Cloud-Optimized GeoTIFFs in Web
    # Mercator, named by their SHA-256, under raster_dir. A file larger than raster_max_bytes is
    # refused before it is opened (a 1 m orthophoto of 100 km2 is ~300 MB uncompressed).
    raster_dir: Path = PROJECT_ROOT / "var" / "rasters"
    raster_max_bytes: int = Field(default=4 * 1024**3, ge=1024)
    # Audit anchors (backend.audit.anchors): the audit chain's head (rows, last id, hash),
    # signed with HMAC-SHA256 under a key the database never sees, appended to a JSON-lines
    # file every audit_anchor_interval_s when the head moved (0: only at shutdown) and at
    # shutdown; `cityops audit verify` checks the chain against them. Defaults: var/audit/
    # anchors.jsonl and var/audit/anchor.key (created 0600). In production keep both off the
    # database host (and copy the anchors elsewhere, or send them to syslog too).
    audit_anchor_file: Path | None = None
    audit_anchor_key_file: Path | None = None
    audit_anchor_interval_s: float = 60.0
    # Also log each anchor to syslog: a socket path ("/dev/log") or "host:port" (UDP).
    audit_anchor_syslog: str | None = None
    # A scenario from scenarios/ run in a loop inside the server (`cityops demo` sets it).
    live_scenario: str | None = None
    # A traffic scenario (kind traffic-peak) run in a loop beside it, its fixes posted to this
    # server's own HTTP ingest at host:port (`cityops demo` sets it).
    live_traffic_scenario: str | None = None
    # A camera scenario (kind cameras-day) run in a loop against this server's own GB/T 28181
    # SIP endpoint, when sip_enabled (`cityops demo` sets both).
    live_camera_scenario: str | None = None
    # Seconds between the live demo's new versions of the domain datasets (new service cases,
    # visitor flow; the weather each hour; the day's windows each day) through the upload path;
    # None: off (`cityops demo` sets 300; CITYOPS_LIVE_DOMAINS_S=0 keeps it off there).
    live_domains_s: float | None = None
    # GTFS feeds (backend.transit.gtfs): the timetable that drives /gtfs/static.zip, how long a
    # built GTFS-Realtime feed is served before it is built again (at most one build per
    # gtfs_rt_max_age_s; consumers expect data no older than 10 s), and how old a vehicle's last
    # fix may be before the vehicle is left out of the feed.
    gtfs_timetable: Path = PROJECT_ROOT / "scenarios" / "sixian" / "timetable.yaml"
    gtfs_rt_max_age_s: float = 5.0
    gtfs_rt_stale_after_s: float = 600.0
    # Bus-line operations (backend.transit): the bunching monitor's pass over every line runs
    # every transit_monitor_interval_s (0 turns the timer off); a vehicle whose last fix is older
    # than vehicle_offline_after_s is offline (status, headways, ETAs).
    transit_monitor_interval_s: float = 5.0
    vehicle_offline_after_s: float = 120.0
    # Smart traffic (backend.traffic): levels, index and alert parameters as data; levels of
    # the trailing five minutes pushed on traffic.segments every traffic_publish_s (0 turns the
    # timer off: tests drive the service); a five-minute bucket is closed (stored, learned into
    # typical speeds, alert rules run) traffic_bucket_delay_s after it ends, so that late fixes
    # count; stored buckets are kept traffic_retention_days; days and time-of-week slots are
    # local to traffic_timezone.
    traffic_levels: Path = PROJECT_ROOT / "scenarios" / "sixian" / "traffic_levels.yaml"
    traffic_publish_s: float = Field(default=30.0, ge=0)
    traffic_bucket_delay_s: float = Field(default=30.0, ge=0, le=240)
    traffic_retention_days: int = Field(default=90, ge=1)
    traffic_timezone: str = "Asia/Shanghai"
    # CAP 1.2 `sender` of traffic alerts: globally unique, no spaces, commas or '<&'.
    traffic_cap_sender: str = Field(default="jjdd.sixian.cityops", pattern=r"^[^\s,<&]+$")
    # Video points (backend.cameras, issue 11). The GB/T 28181 signalling endpoint (SIP over
    # UDP and TCP on one port; 0: an ephemeral port, for tests) is this platform's SIP server
    # `sip_server_id` in `sip_realm` (by custom the id's first ten digits). Devices authenticate
    # with digest: their own secret (stored as HA1, `cityops ingest` of a register) or the realm
    # secret `sip_password` (required in production when the listener runs). A device that
    # misses `sip_offline_misses` keepalives (its interval from its register, else
    # `sip_keepalive_s`) is offline.
    sip_enabled: bool = False
    sip_host: str = "127.0.0.1"
    sip_port: int = Field(default=5060, ge=0, le=65535)
    sip_server_id: str = Field(default="34132400002000000001", pattern=r"^[0-9]{20}$")
    sip_realm: str = Field(default="3413240000", pattern=r"^[0-9A-Za-z.]{1,64}$")
    sip_password: str | None = None
    sip_keepalive_s: int = Field(default=60, ge=5, le=3600)
    sip_offline_misses: int = Field(default=3, ge=1, le=10)
    sip_max_message_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    # Video: each camera's play address comes from the media server's URL template
    # (backend.cameras.media: go2rtc, zlmediakit, mediamtx, or `builtin`, the app's own HLS test
    # streams under media_hls_dir). Links are signed with media_link_secret (a random one per
    # process when unset) and expire after media_link_ttl_s.
    media_kind: Literal["builtin", "go2rtc", "zlmediakit", "mediamtx"] = "builtin"
    media_base_url: str = "/media"
    media_hls_template: str | None = None   # overrides the kind's HLS pattern ({code}, {base})
    media_whep_template: str | None = None  # overrides the kind's WHEP pattern
    media_hls_dir: Path = PROJECT_ROOT / "var" / "hls"
    media_link_secret: str | None = None
    media_link_ttl_s: int = Field(default=300, ge=10, le=86400)
    # Analytics systems post camera alarms with `Authorization: Bearer <camera_alarm_token>`
    # (unset: the webhook refuses every call).
    camera_alarm_token: str | None = None
    # The data catalog (issue 12). Files a steward uploads and bodies a department's system
    # pushes are refused past these sizes (413) before they are parsed; a version's report keeps
    # at most dataset_report_rows rejected rows. The table exchange polls each link at its own
    # interval (dataset_exchange_links.interval_s), looking every dataset_exchange_tick_s for
    # links that are due (0: no scheduler; tests drive it); the quality rules run on every new
    # version and over every dataset every quality_interval_s (0: no schedule).
    dataset_upload_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    dataset_push_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    dataset_report_rows: int = Field(default=200, ge=1, le=10_000)
    dataset_exchange_tick_s: float = Field(default=60.0, ge=0)
    quality_interval_s: float = Field(default=6 * 3600.0, ge=0)
    catalog_dir: Path = PROJECT_ROOT / "scenarios" / "sixian" / "catalog"
    # The population base (issue 13). Counts below population_k are suppressed (plus the
    # complementary cells that would give them away); a search answers at most
    # people_search_limit persons; the access log looks back people_access_days by default; a
    # change from the field is refused past people_change_max_bytes.
    population_k: int = Field(default=5, ge=2, le=100)
    people_search_limit: int = Field(default=50, ge=1, le=500)
    people_access_days: int = Field(default=90, ge=1, le=3660)
    people_change_max_bytes: int = Field(default=64 * 1024, ge=1024)
    # The eight domains and the wall (issue 14). The domain views (one YAML each); a KPI or
    # chart query is cancelled past domain_query_timeout_ms (the card shows "unavailable");
    # the wall's carousel moves to the next domain every wall_carousel_s (paused while someone
    # interacts); a snapshot holds at most snapshot_max_features features per layer.
    domains_dir: Path = PROJECT_ROOT / "scenarios" / "sixian" / "domains"
    domain_query_timeout_ms: int = Field(default=2000, ge=50, le=60000)
    domain_area_max_bytes: int = Field(default=64 * 1024, ge=1024)  # a drawn polygon's body
    wall_carousel_s: int = Field(default=30, ge=5, le=3600)
    snapshot_max_features: int = Field(default=20000, ge=100, le=500000)
    # Observability (backend.observability). Logs: one line per event, `kv` (key=value) or
    # `json`; the root level, and per-logger levels as "name=LEVEL,name=LEVEL" (e.g.
    # "cityops.access=WARNING,cityops.realtime=DEBUG"); one access line per request.
    log_format: Literal["kv", "json"] = "kv"
    log_level: str = "INFO"
    log_levels: str = ""
    access_log: bool = True
    log_repeats_per_minute: int = Field(default=60, ge=1)  # lines of one kind a minute, at most
    # /metrics (Prometheus text): admins' sessions, or this bearer token for the scraper.
    # Unset: only admins may read it (a scraper then has no credential of its own).
    metrics_token: str | None = None
    ready_timeout_s: float = 2.0  # each readiness check's time limit (/api/health/ready)

    def effective_ingest_token(self) -> str | None:
        if self.ingest_token:
            return self.ingest_token
        return DEV_INGEST_TOKEN if self.env != "production" else None

    def effective_hub_token(self) -> str | None:
        if self.hub_token:
            return self.hub_token
        return DEV_HUB_TOKEN if self.env == "development" else None

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("Set both CITYOPS_TLS_CERTFILE and CITYOPS_TLS_KEYFILE, or neither")
        for path in (self.tls_certfile, self.tls_keyfile):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file {path} does not exist")
        return self

    def logger_levels(self) -> dict[str, str]:
        """log_levels as {logger name: LEVEL}; "" is the root logger (log_level)."""
        levels = {"": self.log_level.strip().upper()}
        for item in filter(None, (part.strip() for part in self.log_levels.split(","))):
            name, sep, level = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"CITYOPS_LOG_LEVELS: {item!r} is not name=LEVEL")
            levels[name.strip()] = level.strip().upper()
        return levels

    @model_validator(mode="after")
    def _log_levels_known(self) -> Settings:
        for name, level in self.logger_levels().items():
            if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
                raise ValueError(f"{'CITYOPS_LOG_LEVELS ' + name if name else 'CITYOPS_LOG_LEVEL'}"
                                 f": {level!r} is not one of DEBUG, INFO, WARNING, ERROR, "
                                 "CRITICAL")
        return self

    @model_validator(mode="after")
    def _production_needs_database(self) -> Settings:
        if self.env == "production" and not self.database_url:
            raise ValueError("CITYOPS_ENV=production requires DATABASE_URL")
        if self.env == "production" and not self.hub_token:
            raise ValueError("CITYOPS_ENV=production requires CITYOPS_HUB_TOKEN")
        if self.env == "production" and not self.ingest_token:
            raise ValueError("CITYOPS_ENV=production requires CITYOPS_INGEST_TOKEN")
        if self.env == "production" and self.sip_enabled and not self.sip_password:
            raise ValueError("CITYOPS_ENV=production with CITYOPS_SIP_ENABLED requires "
                             "CITYOPS_SIP_PASSWORD (the realm secret)")
        return self


def get_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
