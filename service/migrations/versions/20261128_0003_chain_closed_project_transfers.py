"""chain the leads recorded on closed projects onto their histories

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 02:45:00

Data only: no table changes. Leads recorded on closed projects before this revision were kept
only in `closed_project_transfer`, outside the hash chain that `perfbudget audit verify`
checks; each is appended to its project's history as the next entry, oldest first, exactly as
`service.closed_transfers.record` now does for a new lead. Running it again changes nothing.
"""

from collections.abc import Sequence

from alembic import op
from sqlmodel import Session

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The service's own function, so that the rows are the ones it writes (the hash is a
    # contract of the audit trail, not of this revision).
    from service.closed_transfers import chain_unchained

    with Session(bind=op.get_bind()) as session:
        chain_unchained(session)
        session.flush()


def downgrade() -> None:
    # The chained entries stay: they are history, and 0002's schema holds them as well.
    pass
