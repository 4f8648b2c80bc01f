"""population base: addresses on buildings, households, persons keyed by citizen ID with their
history, the quarantine of refused rows, the access log of looks at a person, and changes
reported from the field; the population officer role and a user's township

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 06:20:00

The database keeps full values; masking happens when answering (backend.privacy.policy).
A person is one row per citizen ID (`persons`); every version of it, the first included, is a
row of `person_versions` (what it said, who or which dataset version made it). Addresses are
placed on the demo county's buildings and so in a grid cell: `grid_code` and `township_code`
are copied onto the person and the household, so the row scope (backend.people.scope) and the
counts are one indexed predicate. Building ids and grid codes are not foreign keys: the county
reload (`cityops demo --rebuild`) replaces those tables, and codes and ids are deterministic.
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ROLES_BEFORE = ("admin", "commander", "supervisor", "dispatcher", "grid_worker",
                "department_handler", "traffic_police", "data_steward", "viewer", "data_bureau")
ROLES = (*ROLES_BEFORE, "population_officer")  # 人口管理民警 / 民政人口专员
STATUSES = "'resident','registered_elsewhere','moved','deceased'"
RELATIONS = "'户主','配偶','子女','父母','孙子女','兄弟姐妹','其他'"
CHECKS = "'format','check_digit','birth_date','region','sex','duplicate','missing'"
CHANGE_KINDS = "'visit','move_in','move_out','correction','death'"


def _roles_check(roles: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{r}'" for r in roles)
    op.execute("ALTER TABLE users DROP CONSTRAINT ck_users_roles")
    op.execute(f"ALTER TABLE users ADD CONSTRAINT ck_users_roles CHECK "
               f"(cardinality(roles) >= 1 AND roles <@ ARRAY[{listed}]::text[])")


def upgrade() -> None:
    _roles_check(ROLES)
    # Township staff: a user with a township sees that township's people (backend.people.scope).
    op.execute("ALTER TABLE users ADD COLUMN township_code varchar(9) "
               "CONSTRAINT ck_users_township CHECK (township_code ~ '^[0-9]{9}$')")

    op.execute("""
CREATE TABLE addresses (
  id bigserial PRIMARY KEY,
  building_id bigint,                   -- buildings.id of the demo county (no FK: reloads)
  grid_code varchar(15) NOT NULL CONSTRAINT ck_addresses_grid CHECK (grid_code ~ '^[0-9]{15}$'),
  township_code varchar(9) NOT NULL,
  community text,
  building_label text NOT NULL,         -- up to the building: 泗城镇汴河社区汴河大道12号楼
  unit text,                            -- the rest: 3单元502室 (withheld by masking)
  geom geometry(Point, 4326) NOT NULL
)""")
    op.execute("CREATE INDEX idx_addresses_grid ON addresses (grid_code)")
    op.execute("CREATE INDEX idx_addresses_building ON addresses (building_id)")
    op.execute("CREATE INDEX idx_addresses_geom ON addresses USING gist (geom)")

    op.execute("""
CREATE TABLE households (
  id bigserial PRIMARY KEY,
  household_no varchar(20) NOT NULL UNIQUE,   -- 户号
  kind text NOT NULL DEFAULT 'family' CONSTRAINT ck_households_kind
    CHECK (kind IN ('family','collective')),
  address_id bigint REFERENCES addresses (id),
  grid_code varchar(15),
  township_code varchar(9),
  head_person_id bigint                       -- FK below (persons refer to households too)
)""")
    op.execute("CREATE INDEX idx_households_grid ON households (grid_code)")

    op.execute(f"""
CREATE TABLE persons (
  id bigserial PRIMARY KEY,
  citizen_id varchar(18) NOT NULL CONSTRAINT uq_persons_citizen_id UNIQUE,
  name text NOT NULL,
  sex text NOT NULL CONSTRAINT ck_persons_sex CHECK (sex IN ('男','女')),
  birth_date date NOT NULL,
  ethnicity text,
  phone text,
  registered_region varchar(6),        -- 户籍地 region code (GB/T 2260); 341324 = Sixian
  registered_address text,             -- 户籍地
  address_id bigint REFERENCES addresses (id),   -- 居住地 (null once moved away)
  household_id bigint REFERENCES households (id),
  relation text CONSTRAINT ck_persons_relation CHECK (relation IN ({RELATIONS})),
  status text NOT NULL CONSTRAINT ck_persons_status CHECK (status IN ({STATUSES})),
  grid_code varchar(15),               -- of the residence: the row scope and the counts
  township_code varchar(9),
  source_dataset text NOT NULL,        -- datasets.id the row came from (户籍人口信息, ...)
  source_version bigint,               -- dataset_versions.id (null: a confirmed field change)
  version integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now()
)""")
    current = "WHERE status IN ('resident','registered_elsewhere')"
    op.execute(f"CREATE INDEX idx_persons_grid ON persons (grid_code) {current}")
    op.execute(f"CREATE INDEX idx_persons_township ON persons (township_code) {current}")
    op.execute("CREATE INDEX idx_persons_household ON persons (household_id)")
    op.execute("CREATE INDEX idx_persons_name ON persons (name text_pattern_ops)")
    op.execute("ALTER TABLE households ADD CONSTRAINT fk_households_head FOREIGN KEY "
               "(head_person_id) REFERENCES persons (id) DEFERRABLE INITIALLY DEFERRED")

    op.execute("""
CREATE TABLE person_versions (
  person_id bigint NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
  version integer NOT NULL,
  data jsonb NOT NULL,                 -- the person's fields as that version had them
  valid_from timestamptz NOT NULL DEFAULT now(),
  source_dataset text,
  source_version bigint,
  change_id bigint,                    -- population_changes.id of an accepted field change
  made_by text NOT NULL,
  CONSTRAINT pk_person_versions PRIMARY KEY (person_id, version)
)""")

    op.execute(f"""
CREATE TABLE population_quarantine (
  id bigserial PRIMARY KEY,
  dataset_id text NOT NULL,
  version_id bigint,
  department_code text NOT NULL,       -- the source department that must fix it
  row_key text,                        -- the row's key in its version (its citizen_id as sent)
  citizen_id text,
  check_failed text NOT NULL CONSTRAINT ck_quarantine_check CHECK (check_failed IN ({CHECKS})),
  reason text NOT NULL,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz
)""")
    op.execute("CREATE INDEX idx_quarantine_department ON population_quarantine "
               "(department_code, created_at DESC) WHERE resolved_at IS NULL")

    # The index behind "who looked at this person": one row per person per look, written in
    # the transaction that appends the look to the audit chain (audit_seq).
    op.execute("""
CREATE TABLE person_access (
  id bigserial PRIMARY KEY,
  person_id bigint NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  purpose text,
  kind text NOT NULL CONSTRAINT ck_person_access_kind CHECK (kind IN ('view','list','export')),
  fields text[] NOT NULL,
  audit_seq bigint NOT NULL
)""")
    op.execute("CREATE INDEX idx_person_access_person ON person_access (person_id, at DESC)")

    op.execute(f"""
CREATE TABLE population_changes (
  id bigserial PRIMARY KEY,
  client_id uuid CONSTRAINT uq_population_changes_client UNIQUE,  -- offline drafts: once
  kind text NOT NULL CONSTRAINT ck_population_changes_kind CHECK (kind IN ({CHANGE_KINDS})),
  person_id bigint REFERENCES persons (id),
  household_id bigint REFERENCES households (id),
  grid_code varchar(15) NOT NULL,
  payload jsonb NOT NULL DEFAULT '{{}}',
  note text,
  department_code text NOT NULL,       -- the responsible unit that confirms it
  status text NOT NULL CONSTRAINT ck_population_changes_status
    CHECK (status IN ('recorded','pending','accepted','rejected')),
  reported_by text NOT NULL,
  reported_at timestamptz NOT NULL DEFAULT now(),
  decided_by text,
  decided_at timestamptz,
  decision_note text,
  person_version integer               -- the version an accepted change made
)""")
    op.execute("CREATE INDEX idx_population_changes_pending ON population_changes "
               "(department_code, reported_at) WHERE status = 'pending'")
    op.execute("CREATE INDEX idx_population_changes_grid ON population_changes "
               "(grid_code, reported_at DESC)")


def downgrade() -> None:
    for table in ("population_changes", "person_access", "population_quarantine",
                  "person_versions"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("ALTER TABLE households DROP CONSTRAINT IF EXISTS fk_households_head")
    for table in ("persons", "households", "addresses"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("ALTER TABLE users DROP COLUMN IF EXISTS township_code")
    op.execute("UPDATE users SET roles = array_remove(roles, 'population_officer')")
    _roles_check(ROLES_BEFORE)
