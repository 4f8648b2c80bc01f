"""photos' bytes move out of the database into files under var/ named by their hash

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 20:10:00

A photo is written once, to `<photos_dir>/<first two hex digits>/<sha256>.<ext>`, before its
row is committed; the row keeps what is known about it. Photos stored in the database before
this migration are written out to CITYOPS_PHOTOS_DIR first, then the column is dropped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from backend.incidents.photo_files import PhotoFiles
    from backend.settings import get_settings

    files = PhotoFiles(get_settings().photos_dir)
    conn = op.get_bind()
    for sha, content_type, data in conn.execute(sa.text(
            "SELECT sha256, content_type, data FROM photos")):
        files.write(sha, bytes(data), content_type)
    op.execute("ALTER TABLE photos DROP COLUMN data")


def downgrade() -> None:
    op.execute("ALTER TABLE photos ADD COLUMN data bytea")
    from backend.incidents.photo_files import PhotoFiles
    from backend.settings import get_settings

    files = PhotoFiles(get_settings().photos_dir)
    conn = op.get_bind()
    for sha, content_type in conn.execute(sa.text("SELECT sha256, content_type FROM photos")):
        conn.execute(sa.text("UPDATE photos SET data = :d WHERE sha256 = :s"),
                     {"d": files.read(sha, content_type), "s": sha})
    op.execute("ALTER TABLE photos ALTER COLUMN data SET NOT NULL")
