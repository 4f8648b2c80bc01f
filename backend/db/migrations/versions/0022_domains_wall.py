"""the eight domains and the wall: a notice when a dataset's current version moves, and the
situation snapshots' register

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 09:30:00

The domain views' KPI cards are recomputed when their datasets change, whichever way a version
arrived (upload, push, table exchange, rollback, the CLI in another process): the trigger tells
every listener on the PostgreSQL channel `cityops_dataset_version` (payload: the dataset id)
once the transaction commits. A snapshot is an offline HTML file under the data directory;
its row says who saved which view when (the audit chain has the same event).
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE FUNCTION notify_dataset_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('cityops_dataset_version', NEW.id);
  RETURN NULL;
END $$""")
    op.execute("""
CREATE TRIGGER trg_datasets_version_notify
AFTER UPDATE OF current_version_id ON datasets FOR EACH ROW
WHEN (OLD.current_version_id IS DISTINCT FROM NEW.current_version_id)
EXECUTE FUNCTION notify_dataset_version()""")
    op.execute("""
CREATE TABLE snapshots (
  id bigserial PRIMARY KEY,
  view text NOT NULL,                    -- 'overview' or a domain view's id
  title text NOT NULL,
  file_name text NOT NULL UNIQUE,        -- under <data dir>/snapshots
  bytes integer NOT NULL CONSTRAINT ck_snapshots_bytes CHECK (bytes > 0),
  sha256 char(64) NOT NULL,
  area jsonb,                            -- the view's extent and filter when saved
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)""")
    op.execute("CREATE INDEX idx_snapshots_created ON snapshots (created_at DESC)")


def downgrade() -> None:
    op.execute("DROP TABLE snapshots")
    op.execute("DROP TRIGGER trg_datasets_version_notify ON datasets")
    op.execute("DROP FUNCTION notify_dataset_version()")
