"""trusted JT/T 808 terminals: the fleet register names each vehicle's terminal, auth codes
are issued per registration and stored hashed

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:30:00

Until now any TCP client could register as any phone number and got a code derived from the
phone. A terminal is now accepted only when the fleet register knows it: `vehicles` gains the
terminal's phone number (BCD digits without leading zeros, so a 2013 header's 12 digits and a
2019 header's 20 digits name the same terminal) and, optionally, its terminal id. Rows whose
vehicle_id already was a 12- or 20-digit phone (the convention so far) get it filled in, so a
running fleet keeps registering.

`terminal_auth` holds one auth code per terminal: a random code issued on registration, kept
as its SHA-256 only (a 128-bit random code needs no slow hash), replaced by the next
registration (`generation` counts them, so a live connection on an old code can be found and
closed) and revocable (`revoked_at`: no code, and registration refused until allowed again).
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE vehicles ADD COLUMN terminal_phone text, ADD COLUMN terminal_id text,
  ADD CONSTRAINT ck_vehicles_terminal_phone CHECK (terminal_phone ~ '^[1-9][0-9]{0,19}$'),
  ADD CONSTRAINT ck_vehicles_terminal_id CHECK (terminal_id ~ '^[0-9A-Za-z-]{1,30}$')""")
    op.execute("CREATE UNIQUE INDEX uq_vehicles_terminal_phone ON vehicles (terminal_phone)")
    # The old convention: vehicle_id is the header's phone. One row per normalised phone.
    op.execute("""
UPDATE vehicles v SET terminal_phone = ltrim(v.vehicle_id, '0')
WHERE v.vehicle_id ~ '^[0-9]{12}$|^[0-9]{20}$' AND ltrim(v.vehicle_id, '0') <> ''
  AND v.vehicle_id = (SELECT min(o.vehicle_id) FROM vehicles o
                      WHERE ltrim(o.vehicle_id, '0') = ltrim(v.vehicle_id, '0'))""")
    op.execute("""
CREATE TABLE terminal_auth (
  terminal_phone text NOT NULL CONSTRAINT pk_terminal_auth PRIMARY KEY,
  vehicle_id text NOT NULL
    CONSTRAINT fk_terminal_auth_vehicle REFERENCES vehicles (vehicle_id) ON DELETE CASCADE,
  code_sha256 bytea,
  generation bigint NOT NULL DEFAULT 1,
  registered_at timestamptz NOT NULL DEFAULT now(),
  registered_from text,
  revoked_at timestamptz,
  revoked_by text,
  CONSTRAINT ck_terminal_auth_code CHECK (code_sha256 IS NULL OR octet_length(code_sha256) = 32),
  CONSTRAINT ck_terminal_auth_revoked CHECK (revoked_at IS NULL OR code_sha256 IS NULL)
)""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS terminal_auth")
    op.execute("DROP INDEX IF EXISTS uq_vehicles_terminal_phone")
    op.execute("ALTER TABLE vehicles DROP COLUMN IF EXISTS terminal_id, "
               "DROP COLUMN IF EXISTS terminal_phone")
