"""Data versions per table, bumped by a statement trigger on every write.

The tile cache keys and ETags include these versions, so a change made by any process
(a CLI ingest, another server) invalidates cached tiles.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base


class LayerVersion(Base):
    __tablename__ = "layer_versions"
    table_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, server_default="1")
    changed_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


BUMP_FUNCTION = """
CREATE OR REPLACE FUNCTION cityops_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO layer_versions (table_name, version, changed_at)
  VALUES (TG_TABLE_NAME, 1, now())
  ON CONFLICT (table_name)
  DO UPDATE SET version = layer_versions.version + 1, changed_at = now();
  RETURN NULL;
END $$;
"""


def bump_trigger_sql(table: str) -> list[str]:
    return [
        f'DROP TRIGGER IF EXISTS "{table}_bump_version" ON "{table}"',
        f'CREATE TRIGGER "{table}_bump_version" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
        f'ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION cityops_bump_version()',
    ]
