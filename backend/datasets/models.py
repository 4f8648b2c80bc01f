"""Tables of the data catalog and governance (migration 0019), as SQLAlchemy Core tables for
queries; the migration makes them. Hot paths (the version store's COPY, the quality runner's one
pass) write their SQL by hand against the same names."""

from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from backend.db.base import Base

md = Base.metadata
TS = sa.DateTime(timezone=True)

datasets = sa.Table(
    "datasets", md,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("resource_code", sa.Text, nullable=False, unique=True),
    sa.Column("annex_no", sa.Integer, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("department_code", sa.Text, nullable=False),
    sa.Column("summary", sa.Text),
    sa.Column("class_code", sa.Text), sa.Column("item_code", sa.Text),
    sa.Column("entry_code", sa.Text), sa.Column("detail_code", sa.Text),
    sa.Column("resource_format", sa.Text),
    sa.Column("share_type", sa.Text, nullable=False),
    sa.Column("share_condition", sa.Text),
    sa.Column("share_method", sa.Text),
    sa.Column("open_type", sa.Text, nullable=False),
    sa.Column("update_cycle", sa.Text, nullable=False),
    sa.Column("published_on", sa.Date),
    sa.Column("related", ARRAY(sa.Text), nullable=False),
    sa.Column("keywords", ARRAY(sa.Text), nullable=False),
    sa.Column("layer_id", sa.Text),
    sa.Column("storage", sa.Text, nullable=False),
    sa.Column("geometry_type", sa.Text),
    sa.Column("key_field", sa.Text),
    sa.Column("coverage", sa.Boolean, nullable=False),
    sa.Column("synthetic", sa.Boolean, nullable=False),
    sa.Column("current_version_id", sa.BigInteger),
    sa.Column("latest_seq", sa.Integer, nullable=False),
    sa.Column("last_updated_at", TS),
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

dataset_fields = sa.Table(
    "dataset_fields", md,
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("position", sa.SmallInteger, nullable=False),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("name_zh", sa.Text, nullable=False),
    sa.Column("data_type", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("required", sa.Boolean, nullable=False),
    sa.Column("kind", sa.Text),
    sa.Column("authority", sa.Text),
    sa.Column("link", sa.Text),
)

dataset_versions = sa.Table(
    "dataset_versions", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("seq", sa.Integer),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("arrival", sa.Text, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("rows_total", sa.Integer, nullable=False),
    sa.Column("rows_added", sa.Integer, nullable=False),
    sa.Column("rows_changed", sa.Integer, nullable=False),
    sa.Column("rows_removed", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("report", JSONB, nullable=False),
)

dataset_rows = sa.Table(
    "dataset_rows", md,
    sa.Column("dataset_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("first_seq", sa.Integer, primary_key=True),
    sa.Column("last_seq", sa.Integer),
    sa.Column("data", JSONB, nullable=False),
    sa.Column("geom", Geometry(srid=4326, spatial_index=False)),
)

dataset_push_credentials = sa.Table(
    "dataset_push_credentials", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("department_code", sa.Text, nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("revoked_at", TS),
)

dataset_exchange_links = sa.Table(
    "dataset_exchange_links", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False, unique=True),
    sa.Column("dsn", sa.Text, nullable=False),
    sa.Column("source_table", sa.Text, nullable=False),
    sa.Column("key_column", sa.Text, nullable=False),
    sa.Column("update_column", sa.Text, nullable=False),
    sa.Column("geometry_column", sa.Text),
    sa.Column("interval_s", sa.Integer, nullable=False),
    sa.Column("watermark", sa.Text),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("last_run_at", TS),
    sa.Column("last_status", sa.Text),
    sa.Column("last_error", sa.Text),
)

quality_rules = sa.Table(
    "quality_rules", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("rule_key", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("dimension", sa.Text, nullable=False),
    sa.Column("params", JSONB, nullable=False),
    sa.Column("blocking", sa.Boolean, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
)

quality_runs = sa.Table(
    "quality_runs", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("version_id", sa.BigInteger, sa.ForeignKey("dataset_versions.id")),
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("rows_checked", sa.BigInteger, nullable=False),
)

quality_results = sa.Table(
    "quality_results", md,
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey("quality_runs.id"), primary_key=True),
    sa.Column("rule_id", sa.Integer, sa.ForeignKey("quality_rules.id"), primary_key=True),
    sa.Column("checked", sa.BigInteger, nullable=False),
    sa.Column("failed", sa.BigInteger, nullable=False),
    sa.Column("samples", JSONB, nullable=False),
    sa.Column("message", sa.Text),
)

_SUBSCORES = ("completeness", "validity", "consistency", "timeliness", "geometry")

quality_scores = sa.Table(
    "quality_scores", md,
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    *(sa.Column(name, sa.Float) for name in _SUBSCORES),
    sa.Column("total", sa.Float, nullable=False),
)

department_scores = sa.Table(
    "department_scores", md,
    sa.Column("department_code", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    *(sa.Column(name, sa.Float) for name in _SUBSCORES),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("datasets", sa.Integer, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
)

quality_tasks = sa.Table(
    "quality_tasks", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("rule_id", sa.Integer, sa.ForeignKey("quality_rules.id"), nullable=False),
    sa.Column("department_code", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("failed", sa.BigInteger, nullable=False),
    sa.Column("opened_at", TS, nullable=False),
    sa.Column("due_at", TS, nullable=False),
    sa.Column("closed_at", TS),
    sa.Column("closed_by", sa.Text),
    sa.Column("note", sa.Text),
)

data_requests = sa.Table(
    "data_requests", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("requester", sa.Text, nullable=False),
    sa.Column("requester_department", sa.Text),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("fields", ARRAY(sa.Text), nullable=False),
    sa.Column("period_days", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("bureau_due_at", TS, nullable=False),
    sa.Column("provider_due_at", TS),
    sa.Column("decided_at", TS),
    sa.Column("decided_by", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("escalated_at", TS),
)

data_request_steps = sa.Table(
    "data_request_steps", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("request_id", sa.BigInteger, sa.ForeignKey("data_requests.id"), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
)

data_grants = sa.Table(
    "data_grants", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("request_id", sa.BigInteger, sa.ForeignKey("data_requests.id")),
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("grantee", sa.Text, nullable=False),
    sa.Column("grantee_department", sa.Text),
    sa.Column("fields", ARRAY(sa.Text), nullable=False),
    sa.Column("valid_from", TS, nullable=False),
    sa.Column("valid_until", TS, nullable=False),
    sa.Column("revoked_at", TS),
)

data_subscriptions = sa.Table(
    "data_subscriptions", md,
    sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("username", sa.Text, primary_key=True),
    sa.Column("created_at", TS, nullable=False),
)

# PostgreSQL NOTIFY channel: a dataset's current version moved (payload: its id; migration 0022).
DATASET_VERSION_CHANNEL = "cityops_dataset_version"
