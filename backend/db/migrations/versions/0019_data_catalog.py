"""data catalog and governance: datasets (catalog records), their fields, immutable versions and
rows, push credentials, table-exchange links, quality rules, runs, results, scores and tasks,
requests, grants and subscriptions

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 03:00:00

A dataset is one record whatever it holds (issue 12): a catalog entry with metadata only, a map
layer of layers/ (`layer_id`; its rows are the layer's table), or rows kept by the platform's
version store. A version is immutable: `dataset_rows` keeps each row with the first version
(`first_seq`) it appears in and the first it no longer does (`last_seq`, null while it is in
the newest); a version's content is the rows with first_seq <= seq < coalesce(last_seq, inf).
The current version is a pointer (`datasets.current_version_id`); rolling back moves it. A
version refused by a blocking rule is kept with its report (`status = 'rejected'`, no seq) and
none of its rows are stored.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

CYCLES = "'realtime','daily','weekly','monthly','quarterly','half_yearly','yearly','irregular'"
DIMENSIONS = "'completeness','validity','consistency','timeliness','geometry'"
ROLES_BEFORE = ("admin", "commander", "supervisor", "dispatcher", "grid_worker",
                "department_handler", "traffic_police", "data_steward", "viewer")
ROLES = (*ROLES_BEFORE, "data_bureau")  # 数据资源管理局


def _roles_check(roles: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{r}'" for r in roles)
    op.execute("ALTER TABLE users DROP CONSTRAINT ck_users_roles")
    op.execute(f"ALTER TABLE users ADD CONSTRAINT ck_users_roles CHECK "
               f"(cardinality(roles) >= 1 AND roles <@ ARRAY[{listed}]::text[])")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    _roles_check(ROLES)
    op.execute("ALTER TABLE departments ADD COLUMN short_name text, ADD COLUMN name_en text")

    op.execute(f"""
CREATE TABLE datasets (
  id text PRIMARY KEY,
  resource_code text NOT NULL UNIQUE,    -- 信息资源代码 (backend/datasets/codes.py)
  annex_no integer UNIQUE,               -- row of the plan's annex (1..323); null: platform's own
  name text NOT NULL,                    -- zh-CN
  name_en text,
  department_code text NOT NULL REFERENCES departments (code),
  summary text,
  class_code text,                       -- 类 / 项 / 目 / 细目 of the classification
  item_code text,
  entry_code text,
  detail_code text,
  resource_format text,                  -- 电子表格, 数据库, 地理信息, 图形图像, 流媒体 ...
  share_type text NOT NULL,
  share_condition text,
  share_method text,                     -- 接口, 库表, 文件
  open_type text NOT NULL DEFAULT 'closed',  -- 开放属性: open, conditional, closed
  update_cycle text NOT NULL,
  published_on date,
  related text[] NOT NULL DEFAULT '{{}}',  -- related resource codes
  keywords text[] NOT NULL DEFAULT '{{}}',
  layer_id text,                         -- the map layer this dataset is (layers/<domain>/<id>.yaml)
  storage text NOT NULL,                 -- rows (version store), layer (the layer's table), metadata
  geometry_type text,
  key_field text,
  coverage boolean NOT NULL DEFAULT false,  -- polygons that tile an area (no overlaps, no gaps)
  synthetic boolean NOT NULL DEFAULT true,  -- 示意: generated metadata or content
  current_version_id bigint,
  latest_seq integer NOT NULL DEFAULT 0,
  last_updated_at timestamptz,           -- when the current content last changed
  search_text text NOT NULL DEFAULT '',  -- name, summary, keywords, fields, department (pg_trgm)
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ck_datasets_id CHECK (id ~ '^[a-z][a-z0-9_]*$'),
  CONSTRAINT ck_datasets_share_type CHECK (share_type IN ('unconditional','conditional','none')),
  CONSTRAINT ck_datasets_open_type CHECK (open_type IN ('open','conditional','closed')),
  CONSTRAINT ck_datasets_update_cycle CHECK (update_cycle IN ({CYCLES})),
  CONSTRAINT ck_datasets_storage CHECK (storage IN ('rows','layer','metadata')),
  CONSTRAINT ck_datasets_geometry_type CHECK (geometry_type IN ('point','line','polygon')),
  CONSTRAINT ck_datasets_layer CHECK ((storage = 'layer') = (layer_id IS NOT NULL))
)""")
    op.execute("CREATE INDEX idx_datasets_department ON datasets (department_code)")
    op.execute("CREATE INDEX idx_datasets_search_trgm ON datasets USING gin (search_text gin_trgm_ops)")
    op.execute("CREATE INDEX idx_datasets_name_trgm ON datasets USING gin (name gin_trgm_ops)")

    op.execute("""
CREATE TABLE dataset_fields (
  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  position smallint NOT NULL,
  name text NOT NULL,
  name_zh text NOT NULL,
  data_type text NOT NULL,
  description text,
  required boolean NOT NULL DEFAULT false,
  kind text,                   -- a person's field (backend.privacy.policy Kind)
  authority text,              -- 一数一源: 'dataset.field' holding the authoritative value
  link text,                   -- the dataset whose key this field holds
  PRIMARY KEY (dataset_id, name),
  CONSTRAINT ck_dataset_fields_type CHECK (
    data_type IN ('string','integer','number','date','datetime','boolean','geometry'))
)""")

    op.execute("""
CREATE TABLE dataset_versions (
  id bigserial PRIMARY KEY,
  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  seq integer,                 -- 1, 2, ... per dataset for accepted versions; null when rejected
  status text NOT NULL,
  arrival text NOT NULL,
  mode text NOT NULL DEFAULT 'full',
  source text,                 -- file name, push credential, exchange link, generator
  idempotency_key text,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  rows_total integer NOT NULL DEFAULT 0,    -- rows in the version's content
  rows_added integer NOT NULL DEFAULT 0,
  rows_changed integer NOT NULL DEFAULT 0,
  rows_removed integer NOT NULL DEFAULT 0,
  rows_rejected integer NOT NULL DEFAULT 0,
  report jsonb NOT NULL DEFAULT '{}',       -- rejected rows with reasons, failing blocking rules
  CONSTRAINT uq_dataset_versions_seq UNIQUE (dataset_id, seq),
  CONSTRAINT uq_dataset_versions_key UNIQUE (dataset_id, idempotency_key),
  CONSTRAINT ck_dataset_versions_status CHECK (status IN ('accepted','rejected')),
  CONSTRAINT ck_dataset_versions_seq CHECK ((status = 'accepted') = (seq IS NOT NULL)),
  CONSTRAINT ck_dataset_versions_arrival CHECK (
    arrival IN ('file','push','exchange','generator','layer')),
  CONSTRAINT ck_dataset_versions_mode CHECK (mode IN ('full','incremental'))
)""")
    op.execute("CREATE INDEX idx_dataset_versions_created ON dataset_versions (dataset_id, created_at)")
    op.execute("""
ALTER TABLE datasets ADD CONSTRAINT fk_datasets_current_version
  FOREIGN KEY (current_version_id) REFERENCES dataset_versions (id) DEFERRABLE INITIALLY DEFERRED""")

    op.execute("""
CREATE TABLE dataset_rows (
  dataset_id text NOT NULL,
  key text NOT NULL,
  first_seq integer NOT NULL,
  last_seq integer,            -- null: still in the newest version
  data jsonb NOT NULL,
  geom geometry(Geometry, 4326),
  PRIMARY KEY (dataset_id, key, first_seq),
  CONSTRAINT ck_dataset_rows_seq CHECK (last_seq IS NULL OR last_seq > first_seq)
)""")
    op.execute("CREATE UNIQUE INDEX uq_dataset_rows_live ON dataset_rows (dataset_id, key) "
               "WHERE last_seq IS NULL")
    op.execute("CREATE INDEX idx_dataset_rows_geom ON dataset_rows USING gist (geom)")

    op.execute("""
CREATE TABLE dataset_push_credentials (
  id serial PRIMARY KEY,
  department_code text NOT NULL REFERENCES departments (code),
  label text NOT NULL,
  token_hash text NOT NULL UNIQUE,   -- sha256 hex of the token (shown once when made)
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
)""")

    op.execute("""
CREATE TABLE dataset_exchange_links (
  id serial PRIMARY KEY,
  dataset_id text NOT NULL UNIQUE REFERENCES datasets (id) ON DELETE CASCADE,
  dsn text NOT NULL,                 -- a read-only connection to the department's database
  source_table text NOT NULL,        -- schema.table
  key_column text NOT NULL,
  update_column text NOT NULL,       -- incremental by this column (> the watermark)
  geometry_column text,
  interval_s integer NOT NULL DEFAULT 3600,
  watermark text,                    -- the greatest update_column value taken so far
  enabled boolean NOT NULL DEFAULT true,
  last_run_at timestamptz,
  last_status text,
  last_error text,
  CONSTRAINT ck_exchange_interval CHECK (interval_s BETWEEN 10 AND 604800)
)""")

    op.execute(f"""
CREATE TABLE quality_rules (
  id serial PRIMARY KEY,
  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  rule_key text NOT NULL,            -- stable within the dataset, e.g. 'required:name'
  kind text NOT NULL,                -- backend.quality.kinds
  dimension text NOT NULL,
  params jsonb NOT NULL DEFAULT '{{}}',
  blocking boolean NOT NULL DEFAULT false,
  enabled boolean NOT NULL DEFAULT true,
  CONSTRAINT uq_quality_rules UNIQUE (dataset_id, rule_key),
  CONSTRAINT ck_quality_rules_dimension CHECK (dimension IN ({DIMENSIONS}))
)""")
    op.execute("""
CREATE TABLE quality_runs (
  id bigserial PRIMARY KEY,
  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  version_id bigint REFERENCES dataset_versions (id) ON DELETE CASCADE,
  trigger text NOT NULL,             -- version, schedule, manual
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  rows_checked bigint NOT NULL DEFAULT 0,
  CONSTRAINT ck_quality_runs_trigger CHECK (trigger IN ('version','schedule','manual'))
)""")
    op.execute("CREATE INDEX idx_quality_runs_dataset ON quality_runs (dataset_id, started_at DESC)")
    op.execute("""
CREATE TABLE quality_results (
  run_id bigint NOT NULL REFERENCES quality_runs (id) ON DELETE CASCADE,
  rule_id integer NOT NULL REFERENCES quality_rules (id) ON DELETE CASCADE,
  checked bigint NOT NULL,
  failed bigint NOT NULL,
  samples jsonb NOT NULL DEFAULT '[]',   -- up to a few failing rows: key, value, reason
  message text,
  PRIMARY KEY (run_id, rule_id)
)""")
    op.execute("""
CREATE TABLE quality_scores (
  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  day date NOT NULL,
  completeness real, validity real, consistency real, timeliness real, geometry real,
  total real NOT NULL,
  PRIMARY KEY (dataset_id, day)
)""")
    op.execute("""
CREATE TABLE department_scores (
  department_code text NOT NULL REFERENCES departments (code),
  day date NOT NULL,
  completeness real, validity real, consistency real, timeliness real, geometry real,
  total real NOT NULL,
  datasets integer NOT NULL,
  rank integer NOT NULL,
  PRIMARY KEY (department_code, day)
)""")
    op.execute("""
CREATE TABLE quality_tasks (
  id bigserial PRIMARY KEY,
  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  rule_id integer NOT NULL REFERENCES quality_rules (id) ON DELETE CASCADE,
  department_code text NOT NULL REFERENCES departments (code),
  status text NOT NULL DEFAULT 'open',
  failed bigint NOT NULL,             -- failing rows when opened (updated by later runs)
  opened_at timestamptz NOT NULL DEFAULT now(),
  due_at timestamptz NOT NULL,        -- working days from the county calendar
  closed_at timestamptz,
  closed_by text,
  note text,
  CONSTRAINT ck_quality_tasks_status CHECK (status IN ('open','fixed','dismissed'))
)""")
    op.execute("CREATE UNIQUE INDEX uq_quality_tasks_open ON quality_tasks (dataset_id, rule_id) "
               "WHERE status = 'open'")

    op.execute("""
CREATE TABLE data_requests (
  id bigserial PRIMARY KEY,
  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  requester text NOT NULL,
  requester_department text REFERENCES departments (code),
  purpose text NOT NULL,
  fields text[] NOT NULL DEFAULT '{}',
  period_days integer NOT NULL DEFAULT 365,
  status text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  bureau_due_at timestamptz NOT NULL,
  provider_due_at timestamptz,
  decided_at timestamptz,
  decided_by text,
  reason text,
  escalated_at timestamptz,
  CONSTRAINT ck_data_requests_purpose CHECK (length(btrim(purpose)) > 0),
  CONSTRAINT ck_data_requests_period CHECK (period_days BETWEEN 1 AND 1830),
  CONSTRAINT ck_data_requests_status CHECK (
    status IN ('bureau_review','provider_review','approved','refused','withdrawn'))
)""")
    op.execute("CREATE INDEX idx_data_requests_dataset ON data_requests (dataset_id, status)")
    op.execute("CREATE INDEX idx_data_requests_requester ON data_requests (requester)")
    op.execute("""
CREATE TABLE data_request_steps (
  id bigserial PRIMARY KEY,
  request_id bigint NOT NULL REFERENCES data_requests (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  note text
)""")
    op.execute("""
CREATE TABLE data_grants (
  id bigserial PRIMARY KEY,
  request_id bigint REFERENCES data_requests (id) ON DELETE SET NULL,
  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  grantee text NOT NULL,
  grantee_department text REFERENCES departments (code),
  fields text[] NOT NULL DEFAULT '{}',   -- empty: every field
  valid_from timestamptz NOT NULL DEFAULT now(),
  valid_until timestamptz NOT NULL,
  revoked_at timestamptz
)""")
    op.execute("CREATE INDEX idx_data_grants_grantee ON data_grants (grantee, dataset_id)")
    op.execute("""
CREATE TABLE data_subscriptions (
  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  username text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset_id, username)
)""")


def downgrade() -> None:
    for table in ("data_subscriptions", "data_grants", "data_request_steps", "data_requests",
                  "quality_tasks", "department_scores", "quality_scores", "quality_results",
                  "quality_runs", "quality_rules", "dataset_exchange_links",
                  "dataset_push_credentials", "dataset_rows"):
        op.execute(f"DROP TABLE {table}")
    op.execute("ALTER TABLE datasets DROP CONSTRAINT fk_datasets_current_version")
    op.execute("DROP TABLE dataset_versions")
    op.execute("DROP TABLE dataset_fields")
    op.execute("DROP TABLE datasets")
    op.execute("ALTER TABLE departments DROP COLUMN short_name, DROP COLUMN name_en")
    op.execute("DELETE FROM users WHERE roles = ARRAY['data_bureau']")
    op.execute("UPDATE users SET roles = array_remove(roles, 'data_bureau')")
    _roles_check(ROLES_BEFORE)
