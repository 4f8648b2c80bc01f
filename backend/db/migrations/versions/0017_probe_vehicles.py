"""probe vehicles: a class for cars that only lend their positions to traffic speeds

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 03:20:00

Private cars (and any floating-car feed) tell the traffic service how fast the roads are; where
one particular private car is, is personal. A vehicle of class `probe` is stored and map-matched
like any other, but never listed, pushed, tracked, found near a case or given alarms one by one
(backend/vehicles/fleet.py PROBE_CLASS).
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE vehicles DROP CONSTRAINT ck_vehicles_class")
    op.execute("ALTER TABLE vehicles ADD CONSTRAINT ck_vehicles_class "
               "CHECK (vehicle_class IN ('bus', 'coach', 'truck', 'taxi', 'other', 'probe'))")


def downgrade() -> None:
    op.execute("UPDATE vehicles SET vehicle_class = 'other' WHERE vehicle_class = 'probe'")
    op.execute("ALTER TABLE vehicles DROP CONSTRAINT ck_vehicles_class")
    op.execute("ALTER TABLE vehicles ADD CONSTRAINT ck_vehicles_class "
               "CHECK (vehicle_class IN ('bus', 'coach', 'truck', 'taxi', 'other'))")
