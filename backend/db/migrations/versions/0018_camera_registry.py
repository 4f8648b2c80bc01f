"""camera registry: GB/T 28181 catalog fields, devices, presets, clipped views, status, alarms,
coverage

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 23:10:00

A camera (a GB/T 28181 channel) is keyed by its 20-digit id (`cameras.code`, decoded by
backend/cameras/device_id.py). It carries the standard's catalog fields plus what a map needs and
the standard lacks (heading, field of view, range, height, tilt, presets). The device that
registers over SIP (an IPC registers itself, an NVR for its channels) is a `camera_devices` row;
its digest secret is stored as HA1 = MD5(id:realm:password), never in clear and never exported.
Each camera's view (view_no 0, the fixed heading) and each preset's (view_no = preset number)
is a visibility polygon clipped by the buildings (`camera_views`, GiST indexed).
"""

from __future__ import annotations

from alembic import op

from backend.db.versions import bump_trigger_sql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

CAMERA_COLUMNS = (
    ("manufacturer", "text"), ("model", "text"), ("owner", "text"),
    ("civil_code", "varchar(12)"), ("address", "text"),
    ("parent_code", "varchar(20)"),   # the registering device (ParentID); null: itself
    ("ptz_type", "smallint"),         # 1 dome, 2 half-dome, 3 fixed bullet, 4 remote bullet
    ("position_type", "smallint"), ("use_type", "smallint"), ("room_type", "smallint"),
    ("height_m", "real"), ("range_m", "real"), ("tilt_deg", "real"),
    ("status_changed_at", "timestamptz"), ("last_seen_at", "timestamptz"),
)


def upgrade() -> None:
    for name, kind in CAMERA_COLUMNS:
        op.execute(f"ALTER TABLE cameras ADD COLUMN {name} {kind}")
    op.execute("""
ALTER TABLE cameras
  ADD CONSTRAINT ck_cameras_ptz_type CHECK (ptz_type BETWEEN 1 AND 9),
  ADD CONSTRAINT ck_cameras_use_type CHECK (use_type BETWEEN 1 AND 9),
  ADD CONSTRAINT ck_cameras_height CHECK (height_m > 0 AND height_m <= 200),
  ADD CONSTRAINT ck_cameras_range CHECK (range_m > 0 AND range_m <= 2000),
  ADD CONSTRAINT ck_cameras_tilt CHECK (tilt_deg BETWEEN -90 AND 90),
  ADD CONSTRAINT ck_cameras_fov CHECK (fov_deg > 0 AND fov_deg <= 360),
  ADD CONSTRAINT ck_cameras_direction CHECK (direction_deg >= 0 AND direction_deg < 360)""")
    op.execute("CREATE INDEX idx_cameras_parent_code ON cameras (parent_code)")

    op.execute("""
CREATE TABLE camera_devices (
  code varchar(20) PRIMARY KEY,
  name text,
  ha1 text,                 -- MD5(code:realm:password); null: the realm secret applies
  transport text,           -- udp | tcp, as last registered
  remote_addr text,         -- host:port the device registered from
  keepalive_s integer NOT NULL DEFAULT 60,
  registered_at timestamptz,
  expires_at timestamptz,
  last_keepalive_at timestamptz,
  online boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ck_camera_devices_code CHECK (code ~ '^[0-9]{20}$'),
  CONSTRAINT ck_camera_devices_transport CHECK (transport IN ('udp', 'tcp')),
  CONSTRAINT ck_camera_devices_keepalive CHECK (keepalive_s BETWEEN 1 AND 3600)
)""")

    op.execute("""
CREATE TABLE camera_presets (
  camera_id bigint NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
  preset_no smallint NOT NULL,
  name text,
  heading_deg real NOT NULL,
  fov_deg real NOT NULL,
  range_m real,
  tilt_deg real,
  PRIMARY KEY (camera_id, preset_no),
  CONSTRAINT ck_camera_presets_no CHECK (preset_no BETWEEN 1 AND 255),
  CONSTRAINT ck_camera_presets_heading CHECK (heading_deg >= 0 AND heading_deg < 360),
  CONSTRAINT ck_camera_presets_fov CHECK (fov_deg > 0 AND fov_deg <= 360),
  CONSTRAINT ck_camera_presets_range CHECK (range_m > 0 AND range_m <= 2000)
)""")

    # view_no 0: the camera's own heading; n >= 1: preset n. geom null with a status other than
    # 'ok' when no cone could be computed (the registry report lists these).
    op.execute("""
CREATE TABLE camera_views (
  camera_id bigint NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
  view_no smallint NOT NULL,
  heading_deg real NOT NULL,
  fov_deg real NOT NULL,
  range_m real NOT NULL,
  status text NOT NULL,
  area_m2 double precision,
  visible_share real,       -- clipped area / the unclipped sector's
  computed_at timestamptz NOT NULL DEFAULT now(),
  geom geometry(MultiPolygon, 4326),
  geom_3857 geometry(MultiPolygon, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
  PRIMARY KEY (camera_id, view_no),
  CONSTRAINT ck_camera_views_status CHECK (status IN ('ok', 'inside_building', 'no_heading',
                                                      'empty'))
)""")
    op.execute("CREATE INDEX idx_camera_views_geom ON camera_views USING gist (geom)")
    op.execute("CREATE INDEX idx_camera_views_geom_3857 ON camera_views USING gist (geom_3857)")
    # The map layer `cameras_view` (layers/public_safety/cameras_view.yaml): each drawn view with
    # its camera's code, name, kind and status; id unique as view_no <= 255. The tile geometry
    # is `tile_geom` (geom_3857 names a table's own generated column).
    op.execute("""
CREATE VIEW camera_views_map AS
SELECT v.camera_id * 256 + v.view_no AS id, c.code, c.name, c.kind, c.status, v.view_no,
  v.heading_deg, v.fov_deg, v.range_m, v.visible_share, v.geom, v.geom_3857 AS tile_geom
FROM camera_views v JOIN cameras c ON c.id = v.camera_id
WHERE v.geom IS NOT NULL""")

    op.execute("""
CREATE TABLE camera_status_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  camera_id bigint NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
  time timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL,
  previous text,
  reason text NOT NULL,     -- register | keepalive | timeout | unregister | catalog | import
  CONSTRAINT ck_camera_status_changes_status CHECK (status IN ('online', 'offline', 'fault'))
)""")
    op.execute("CREATE INDEX idx_camera_status_changes_camera_time "
               "ON camera_status_changes (camera_id, time DESC)")

    op.execute("""
CREATE TABLE camera_alarms (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  camera_id bigint NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
  time timestamptz NOT NULL,           -- when the device says it happened
  received_at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL,                  -- backend/cameras/alarm_kinds: intrusion, crowd, fire, ...
  priority smallint NOT NULL DEFAULT 3,  -- GB/T 28181 AlarmPriority: 1 highest .. 4
  description text,
  source text NOT NULL,                -- sip | webhook
  external_key text,                   -- the sender's id: a repeat is the same alarm
  state text NOT NULL DEFAULT 'open',
  acknowledged_by text,
  acknowledged_at timestamptz,
  incident_id bigint REFERENCES incidents (id),
  lon double precision NOT NULL,
  lat double precision NOT NULL,
  CONSTRAINT uq_camera_alarms_external_key UNIQUE (source, external_key),
  CONSTRAINT ck_camera_alarms_priority CHECK (priority BETWEEN 1 AND 4),
  CONSTRAINT ck_camera_alarms_source CHECK (source IN ('sip', 'webhook')),
  CONSTRAINT ck_camera_alarms_state CHECK (state IN ('open', 'acknowledged', 'closed')),
  CONSTRAINT ck_camera_alarms_description CHECK (char_length(description) <= 2000)
)""")
    op.execute("CREATE INDEX idx_camera_alarms_open ON camera_alarms (time DESC) "
               "WHERE state <> 'closed'")
    op.execute("CREATE INDEX idx_camera_alarms_camera ON camera_alarms (camera_id, time DESC)")

    # Per grid cell: road length, and the length inside at least one online camera's view.
    op.execute("""
CREATE TABLE camera_coverage (
  grid_code varchar(15) PRIMARY KEY,
  road_m double precision NOT NULL,
  covered_m double precision NOT NULL,
  share real,                          -- null for a cell without roads
  cameras integer NOT NULL,            -- online cameras whose views touch the cell's roads
  computed_at timestamptz NOT NULL DEFAULT now()
)""")
    for table in ("camera_views", "camera_coverage", "camera_presets"):
        for statement in bump_trigger_sql(table):
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP VIEW camera_views_map")
    for table in ("camera_coverage", "camera_alarms", "camera_status_changes", "camera_views",
                  "camera_presets", "camera_devices"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP INDEX idx_cameras_parent_code")
    for constraint in ("ptz_type", "use_type", "height", "range", "tilt", "fov", "direction"):
        op.execute(f"ALTER TABLE cameras DROP CONSTRAINT ck_cameras_{constraint}")
    for name, _ in CAMERA_COLUMNS:
        op.execute(f"ALTER TABLE cameras DROP COLUMN {name}")
