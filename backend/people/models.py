"""Tables of the population base (migration 0020), as SQLAlchemy Core tables for queries; the
migration makes them. The bulk load writes its SQL by hand against the same names."""

from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from backend.db.base import Base

md = Base.metadata
TS = sa.DateTime(timezone=True)

# A person's status. Current (counted, listed): resident, registered_elsewhere (lives here,
# 户籍 elsewhere: 暂住). Kept but not counted: moved (away), deceased.
STATUSES = ("resident", "registered_elsewhere", "moved", "deceased")
CURRENT_STATUSES = ("resident", "registered_elsewhere")
RELATIONS = ("户主", "配偶", "子女", "父母", "孙子女", "兄弟姐妹", "其他")
# Which check refused a row (backend.people.idcheck and the loader).
CHECKS = ("format", "check_digit", "birth_date", "region", "sex", "duplicate", "missing")
CHANGE_KINDS = ("visit", "move_in", "move_out", "correction", "death")
# visit: recorded at once (nothing to confirm); the others wait for the source department.
CHANGE_STATUSES = ("recorded", "pending", "accepted", "rejected")
ACCESS_KINDS = ("view", "list", "export")

addresses = sa.Table(
    "addresses", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("building_id", sa.BigInteger),
    sa.Column("grid_code", sa.String(15), nullable=False),
    sa.Column("township_code", sa.String(9), nullable=False),
    sa.Column("community", sa.Text),
    sa.Column("building_label", sa.Text, nullable=False),
    sa.Column("unit", sa.Text),
    sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
)

households = sa.Table(
    "households", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("household_no", sa.String(20), nullable=False, unique=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("address_id", sa.BigInteger, sa.ForeignKey("addresses.id")),
    sa.Column("grid_code", sa.String(15)),
    sa.Column("township_code", sa.String(9)),
    sa.Column("head_person_id", sa.BigInteger),
)

persons = sa.Table(
    "persons", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("citizen_id", sa.String(18), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sex", sa.Text, nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("ethnicity", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("registered_region", sa.String(6)),
    sa.Column("registered_address", sa.Text),
    sa.Column("address_id", sa.BigInteger, sa.ForeignKey("addresses.id")),
    sa.Column("household_id", sa.BigInteger, sa.ForeignKey("households.id")),
    sa.Column("relation", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("grid_code", sa.String(15)),
    sa.Column("township_code", sa.String(9)),
    sa.Column("source_dataset", sa.Text, nullable=False),
    sa.Column("source_version", sa.BigInteger),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

person_versions = sa.Table(
    "person_versions", md,
    sa.Column("person_id", sa.BigInteger, sa.ForeignKey("persons.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("data", JSONB, nullable=False),
    sa.Column("valid_from", TS, nullable=False),
    sa.Column("source_dataset", sa.Text),
    sa.Column("source_version", sa.BigInteger),
    sa.Column("change_id", sa.BigInteger),
    sa.Column("made_by", sa.Text, nullable=False),
)

population_quarantine = sa.Table(
    "population_quarantine", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("dataset_id", sa.Text, nullable=False),
    sa.Column("version_id", sa.BigInteger),
    sa.Column("department_code", sa.Text, nullable=False),
    sa.Column("row_key", sa.Text),
    sa.Column("citizen_id", sa.Text),
    sa.Column("check_failed", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("data", JSONB, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("resolved_at", TS),
)

person_access = sa.Table(
    "person_access", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("person_id", sa.BigInteger, nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("fields", ARRAY(sa.Text), nullable=False),
    sa.Column("audit_seq", sa.BigInteger, nullable=False),
)

population_changes = sa.Table(
    "population_changes", md,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("client_id", UUID(as_uuid=True), unique=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("person_id", sa.BigInteger, sa.ForeignKey("persons.id")),
    sa.Column("household_id", sa.BigInteger, sa.ForeignKey("households.id")),
    sa.Column("grid_code", sa.String(15), nullable=False),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("department_code", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reported_by", sa.Text, nullable=False),
    sa.Column("reported_at", TS, nullable=False),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", TS),
    sa.Column("decision_note", sa.Text),
    sa.Column("person_version", sa.Integer),
)
