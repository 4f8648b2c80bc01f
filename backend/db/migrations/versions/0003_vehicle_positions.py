"""vehicle positions partitioned by day, latest state per vehicle

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 17:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Runs with its owner's rights (the migrating role), so that the application's role, which
# owns no tables, can still have a day's partition made. A day whose rows already sit in the
# default partition (late data that came first) has them moved into the new partition.
ENSURE_PARTITION = """
CREATE OR REPLACE FUNCTION cityops_ensure_position_partition(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  part text := format('vehicle_positions_p%s', to_char(day, 'YYYYMMDD'));
  lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
  hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part;
  END IF;
  -- Writers racing for a new day wait here; the loser's cached catalog may not show the
  -- winner's table yet, so creating it again is caught as "already made" below.
  PERFORM pg_advisory_xact_lock(hashtext(part));
  BEGIN
    EXECUTE format('CREATE TABLE %I (LIKE vehicle_positions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
  EXCEPTION WHEN duplicate_table THEN
    RETURN part;
  END;
  EXECUTE format('INSERT INTO %I SELECT * FROM vehicle_positions_default WHERE time >= $1 AND time < $2', part)
    USING lo, hi;
  DELETE FROM vehicle_positions_default WHERE time >= lo AND time < hi;
  EXECUTE format('ALTER TABLE vehicle_positions ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                 part, lo, hi);
  RETURN part;
END $$;
"""

# Retention: whole days before `keep_from` are dropped, and old rows of the default partition.
DROP_BEFORE = """
CREATE OR REPLACE FUNCTION cityops_drop_position_partitions(keep_from date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r record;
  dropped integer := 0;
BEGIN
  FOR r IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'vehicle_positions'::regclass
             AND c.relname ~ '^vehicle_positions_p[0-9]{8}$'
             AND to_date(substr(c.relname, 20), 'YYYYMMDD') < keep_from LOOP
    EXECUTE format('DROP TABLE %I', r.relname);
    dropped := dropped + 1;
  END LOOP;
  DELETE FROM vehicle_positions_default WHERE time < (keep_from::timestamp AT TIME ZONE 'UTC');
  RETURN dropped;
END $$;
"""


def upgrade() -> None:
    op.execute("""
CREATE TABLE vehicle_positions (
  vehicle_id text NOT NULL,
  time timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  lon double precision NOT NULL,
  lat double precision NOT NULL,
  speed_kmh double precision,
  heading_deg double precision,
  altitude_m double precision,
  alarm_flags bigint NOT NULL DEFAULT 0,
  status_flags bigint NOT NULL DEFAULT 0,
  source text NOT NULL,
  CONSTRAINT pk_vehicle_positions PRIMARY KEY (vehicle_id, time),
  CONSTRAINT ck_vehicle_positions_lonlat CHECK (lon BETWEEN -180 AND 180 AND lat BETWEEN -90 AND 90)
) PARTITION BY RANGE (time)""")
    op.execute("CREATE TABLE vehicle_positions_default PARTITION OF vehicle_positions DEFAULT")
    op.execute("""
CREATE TABLE vehicle_latest (
  vehicle_id text NOT NULL CONSTRAINT pk_vehicle_latest PRIMARY KEY,
  time timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  lon double precision NOT NULL,
  lat double precision NOT NULL,
  speed_kmh double precision,
  heading_deg double precision,
  alarm_flags bigint NOT NULL DEFAULT 0,
  status_flags bigint NOT NULL DEFAULT 0,
  source text NOT NULL,
  geom geometry(POINT, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
)""")
    op.execute("CREATE INDEX idx_vehicle_latest_geom ON vehicle_latest USING gist (geom)")
    op.execute(ENSURE_PARTITION)
    op.execute(DROP_BEFORE)
    op.execute("REVOKE ALL ON FUNCTION cityops_ensure_position_partition(date) FROM PUBLIC")
    op.execute("REVOKE ALL ON FUNCTION cityops_drop_position_partitions(date) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cityops_drop_position_partitions(date)")
    op.execute("DROP FUNCTION IF EXISTS cityops_ensure_position_partition(date)")
    op.execute("DROP TABLE IF EXISTS vehicle_latest")
    op.execute("DROP TABLE IF EXISTS vehicle_positions")
