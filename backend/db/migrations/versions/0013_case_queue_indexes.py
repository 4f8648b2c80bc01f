"""case queue indexes: the queue's order, and the scopes of units and grid workers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 18:40:00

The queue (GET /api/incidents) sorted every matching case to return one page: with 100,000
cases a dispatcher's first page took ~140-370 ms of PostgreSQL (a top-N heapsort over all of
them, joined first). idx_incidents_queue holds the queue's ORDER BY expressions
(backend.incidents.queries.QUEUE_ORDER), so a page is the first rows of an index scan.
A unit handler's scope is `department OR reporter/assignee/verifier = me`: without indexes on
reporter_id and verifier_id every such query scanned all open cases (~40 ms); with them and
(department_code, state) it is a BitmapOr of four index scans. (department_code, state)
replaces the single-column department index.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE INDEX idx_incidents_queue ON incidents ((state IN ('closed', 'voided')),
  (urgency = 'urgent') DESC, stage_due_at, reported_at, id)""")
    op.execute("CREATE INDEX idx_incidents_reporter_id ON incidents (reporter_id) "
               "WHERE reporter_id IS NOT NULL")
    op.execute("CREATE INDEX idx_incidents_verifier_id ON incidents (verifier_id) "
               "WHERE verifier_id IS NOT NULL")
    op.execute("CREATE INDEX idx_incidents_department_state ON incidents "
               "(department_code, state)")
    op.execute("DROP INDEX IF EXISTS idx_incidents_department_code")


def downgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS idx_incidents_department_code ON incidents "
               "(department_code)")
    for name in ("department_state", "verifier_id", "reporter_id", "queue"):
        op.execute(f"DROP INDEX IF EXISTS idx_incidents_{name}")
