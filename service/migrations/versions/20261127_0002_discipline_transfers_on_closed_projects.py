"""discipline transfers recorded on closed projects

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 22:20:34.712672
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made by create_all by a build of this day, before migrations existed, may hold
    # the table already: adopt it, as the baseline adopts the others.
    if "closed_project_transfer" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "closed_project_transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("project_state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("evidence", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("closed_project_transfer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closed_project_transfer_code"), ["code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("closed_project_transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closed_project_transfer_code"))

    op.drop_table("closed_project_transfer")
