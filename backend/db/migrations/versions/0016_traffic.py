"""traffic: directed segments, speeds per five-minute bucket (partitioned by day), typical
speeds per time-of-week slot, the index per bucket and area, alerts

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:00:00

A segment is a direction of travel along one road row: key 2*road_id forward (the row's drawn
direction), 2*road_id + 1 backward (backend.traffic.network.segment_key). traffic_segments
is derived from roads, townships and pilot_segments by backend.traffic.segments.refresh.
traffic_speeds is partitioned by UTC day on bucket_start like vehicle_positions (0003): the
app role makes a day's partition and drops old days through the SECURITY DEFINER functions.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ENSURE_PARTITION = """
CREATE OR REPLACE FUNCTION cityops_ensure_traffic_partition(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  part text := format('traffic_speeds_p%s', to_char(day, 'YYYYMMDD'));
  lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
  hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext(part));
  BEGIN
    EXECUTE format('CREATE TABLE %I (LIKE traffic_speeds INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
  EXCEPTION WHEN duplicate_table THEN
    RETURN part;
  END;
  EXECUTE format('INSERT INTO %I SELECT * FROM traffic_speeds_default WHERE bucket_start >= $1 AND bucket_start < $2', part)
    USING lo, hi;
  DELETE FROM traffic_speeds_default WHERE bucket_start >= lo AND bucket_start < hi;
  EXECUTE format('ALTER TABLE traffic_speeds ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                 part, lo, hi);
  RETURN part;
END $$;
"""

DROP_BEFORE = """
CREATE OR REPLACE FUNCTION cityops_drop_traffic_partitions(keep_from date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r record;
  dropped integer := 0;
BEGIN
  FOR r IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'traffic_speeds'::regclass
             AND c.relname ~ '^traffic_speeds_p[0-9]{8}$'
             AND to_date(substr(c.relname, 17), 'YYYYMMDD') < keep_from LOOP
    EXECUTE format('DROP TABLE %I', r.relname);
    dropped := dropped + 1;
  END LOOP;
  DELETE FROM traffic_speeds_default
  WHERE bucket_start < (keep_from::timestamp AT TIME ZONE 'UTC');
  DELETE FROM traffic_tpi WHERE bucket_start < (keep_from::timestamp AT TIME ZONE 'UTC');
  RETURN dropped;
END $$;
"""


def upgrade() -> None:
    op.execute("""
CREATE TABLE traffic_segments (
  segment bigint NOT NULL CONSTRAINT pk_traffic_segments PRIMARY KEY,
  road_id bigint NOT NULL,
  forward boolean NOT NULL,
  name text,
  road_class text NOT NULL,
  length_m double precision NOT NULL,
  township_code text,
  pilot_code text,
  geom geometry(LINESTRING, 4326) NOT NULL,
  geom_3857 geometry(LINESTRING, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ck_traffic_segments_key CHECK (segment = 2 * road_id + CASE WHEN forward THEN 0 ELSE 1 END)
)""")
    op.execute("CREATE INDEX idx_traffic_segments_geom ON traffic_segments USING gist (geom)")
    op.execute("CREATE INDEX idx_traffic_segments_geom_3857 ON traffic_segments "
               "USING gist (geom_3857)")
    op.execute("CREATE INDEX idx_traffic_segments_pilot ON traffic_segments (pilot_code) "
               "WHERE pilot_code IS NOT NULL")
    op.execute("CREATE INDEX idx_traffic_segments_township ON traffic_segments (township_code)")
    op.execute("""
CREATE TABLE traffic_speeds (
  segment bigint NOT NULL,
  bucket_start timestamptz NOT NULL,
  speed_kmh double precision NOT NULL,
  vehicles integer NOT NULL,
  traversals integer NOT NULL,
  level smallint NOT NULL,
  CONSTRAINT pk_traffic_speeds PRIMARY KEY (segment, bucket_start),
  CONSTRAINT ck_traffic_speeds_values CHECK (speed_kmh >= 0 AND vehicles >= 0
                                             AND traversals >= 0 AND level BETWEEN 0 AND 5)
) PARTITION BY RANGE (bucket_start)""")
    op.execute("CREATE TABLE traffic_speeds_default PARTITION OF traffic_speeds DEFAULT")
    # The day replay reads every segment of one bucket: by time first.
    op.execute("CREATE INDEX idx_traffic_speeds_bucket ON traffic_speeds (bucket_start)")
    op.execute("""
CREATE TABLE traffic_typical (
  segment bigint NOT NULL,
  slot smallint NOT NULL,
  speed_kmh double precision NOT NULL,
  samples integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pk_traffic_typical PRIMARY KEY (segment, slot),
  CONSTRAINT ck_traffic_typical_slot CHECK (slot BETWEEN 0 AND 2015),
  CONSTRAINT ck_traffic_typical_values CHECK (speed_kmh > 0 AND samples >= 1)
)""")
    op.execute("""
CREATE TABLE traffic_tpi (
  area text NOT NULL,
  bucket_start timestamptz NOT NULL,
  tpi double precision,
  level smallint NOT NULL,
  length_m double precision NOT NULL,
  CONSTRAINT pk_traffic_tpi PRIMARY KEY (area, bucket_start),
  CONSTRAINT ck_traffic_tpi_range CHECK (tpi IS NULL OR tpi BETWEEN 0 AND 10)
)""")
    op.execute("""
CREATE TABLE traffic_alerts (
  id bigint GENERATED BY DEFAULT AS IDENTITY CONSTRAINT pk_traffic_alerts PRIMARY KEY,
  kind text NOT NULL,
  source_key text NOT NULL DEFAULT '',
  segment bigint NOT NULL,
  pilot_code text,
  name text,
  status text NOT NULL DEFAULT 'active',
  level smallint NOT NULL DEFAULT 0,
  speed_kmh double precision,
  typical_kmh double precision,
  started_at timestamptz NOT NULL,
  raised_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  cleared_at timestamptz,
  acknowledged_at timestamptz,
  acknowledged_by text,
  closed_at timestamptz,
  closed_by text,
  note text,
  revision integer NOT NULL DEFAULT 0,
  case_id bigint,
  vehicle_id text,
  lon double precision NOT NULL,
  lat double precision NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'::jsonb,
  CONSTRAINT ck_traffic_alerts_kind CHECK (kind IN ('congestion', 'slow', 'accident')),
  CONSTRAINT ck_traffic_alerts_status CHECK (status IN ('active', 'acknowledged', 'cleared', 'closed')),
  CONSTRAINT ck_traffic_alerts_level CHECK (level BETWEEN 0 AND 5)
)""")
    # One open alert per rule, segment and source (a case, a vehicle's alarm): a rule that
    # raises again after a restart finds it open.
    op.execute("CREATE UNIQUE INDEX uq_traffic_alerts_open ON traffic_alerts "
               "(kind, segment, source_key) WHERE status IN ('active', 'acknowledged')")
    op.execute("CREATE INDEX idx_traffic_alerts_raised ON traffic_alerts (raised_at DESC)")
    op.execute(ENSURE_PARTITION)
    op.execute(DROP_BEFORE)
    op.execute("REVOKE ALL ON FUNCTION cityops_ensure_traffic_partition(date) FROM PUBLIC")
    op.execute("REVOKE ALL ON FUNCTION cityops_drop_traffic_partitions(date) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cityops_drop_traffic_partitions(date)")
    op.execute("DROP FUNCTION IF EXISTS cityops_ensure_traffic_partition(date)")
    for table in ("traffic_alerts", "traffic_tpi", "traffic_typical", "traffic_speeds",
                  "traffic_segments"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
