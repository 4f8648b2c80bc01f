"""The snapshots' register (migration 0022), a Core table for queries."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from backend.db.base import Base

snapshots = sa.Table(
    "snapshots", Base.metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("view", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False, unique=True),
    sa.Column("bytes", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("area", JSONB),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)
