"""baseline: the schema before migrations

Revision ID: 0001
Revises:
Create Date: 2026-11-27 22:08:58.200508
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made by create_all before migrations existed holds some of these tables
    # already (those of its version): each table is created only when missing, so that
    # upgrading such a database adopts it with its data.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "calendar_setting" not in existing:
        op.create_table(
            "calendar_setting",
            # One row with id 1 (the model's default): no sequence, as create_all makes it.
            sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
            sa.Column("calendar", sa.JSON(), nullable=False),
            sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if "department" not in existing:
        op.create_table(
            "department",
            sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
            sa.Column("head", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
            sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("code"),
        )
    if "department_year" not in existing:
        op.create_table(
            "department_year",
            sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("fiscal_year", sa.Integer(), nullable=False),
            sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("budget_amount", sa.Numeric(precision=20, scale=2), nullable=True),
            sa.Column("self_score", sa.Numeric(precision=6, scale=2), nullable=True),
            sa.Column("score", sa.Numeric(precision=6, scale=2), nullable=True),
            sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
            sa.Column("control_number", sa.Numeric(precision=20, scale=2), nullable=True),
            sa.Column("reserved", sa.Numeric(precision=20, scale=2), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("snapshot", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("department", "fiscal_year"),
        )
        with op.batch_alter_table("department_year", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_department_year_fiscal_year"), ["fiscal_year"], unique=False
            )
            batch_op.create_index(batch_op.f("ix_department_year_grade"), ["grade"], unique=False)
            batch_op.create_index(batch_op.f("ix_department_year_state"), ["state"], unique=False)
    if "department_year_history" not in existing:
        op.create_table(
            "department_year_history",
            sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("fiscal_year", sa.Integer(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
            sa.Column("from_state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("to_state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("detail", sa.JSON(), nullable=False),
            sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.PrimaryKeyConstraint("department", "fiscal_year", "seq"),
        )
    if "disclosure_release" not in existing:
        op.create_table(
            "disclosure_release",
            sa.Column("fiscal_year", sa.Integer(), nullable=False),
            sa.Column("released_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("fiscal_year"),
        )
    if "expert" not in existing:
        op.create_table(
            "expert",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
            sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
            sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
            sa.Column("institution", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
            sa.Column("specialities", sa.JSON(), nullable=False),
            sa.Column("suspended", sa.Boolean(), nullable=False),
            sa.Column(
                "suspended_reason", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False
            ),
            sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("username"),
        )
    if "key_evaluation_selection" not in existing:
        op.create_table(
            "key_evaluation_selection",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("fiscal_year", sa.Integer(), nullable=False),
            sa.Column("seed", sa.Integer(), nullable=False),
            sa.Column("sample_percent", sa.Numeric(precision=5, scale=2), nullable=False),
            sa.Column("sample_pool", sa.JSON(), nullable=False),
            sa.Column("selected", sa.JSON(), nullable=False),
            sa.Column("selected_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column("selected_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("key_evaluation_selection", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_key_evaluation_selection_fiscal_year"), ["fiscal_year"], unique=False
            )
    if "notification" not in existing:
        op.create_table(
            "notification",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
            sa.Column("project_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
            sa.Column("desk", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("recipient_id", sa.Integer(), nullable=False),
            sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
            sa.Column("payload", sa.JSON(), nullable=False),
            sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
            sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
            sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("key"),
        )
        with op.batch_alter_table("notification", schema=None) as batch_op:
            batch_op.create_index(
                "ix_notification_project_status", ["project_code", "status"], unique=False
            )
            batch_op.create_index("ix_notification_status_id", ["status", "id"], unique=False)
    if "notification_recipient" not in existing:
        op.create_table(
            "notification_recipient",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
            sa.Column("desk", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
            sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
            sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
            sa.Column("events", sa.JSON(), nullable=True),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("notification_recipient", schema=None) as batch_op:
            batch_op.create_index(
                "ix_recipient_desk_department", ["desk", "department"], unique=False
            )
    if "project" not in existing:
        op.create_table(
            "project",
            sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
            sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("budget_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("major", sa.Boolean(), nullable=False),
            sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
            sa.Column("start_year", sa.Integer(), nullable=False),
            sa.Column("end_year", sa.Integer(), nullable=False),
            sa.Column("total_amount", sa.Numeric(precision=20, scale=2), nullable=False),
            sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("warning", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
            sa.Column("exit_proposed", sa.Boolean(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("snapshot", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("code"),
        )
        with op.batch_alter_table("project", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_project_budget_type"), ["budget_type"], unique=False
            )
            batch_op.create_index(batch_op.f("ix_project_department"), ["department"], unique=False)
            batch_op.create_index(
                "ix_project_department_state", ["department", "state"], unique=False
            )
            batch_op.create_index(batch_op.f("ix_project_grade"), ["grade"], unique=False)
            batch_op.create_index(batch_op.f("ix_project_state"), ["state"], unique=False)
            batch_op.create_index(batch_op.f("ix_project_warning"), ["warning"], unique=False)
    if "evaluator_assignment" not in existing:
        op.create_table(
            "evaluator_assignment",
            sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("fiscal_year", sa.Integer(), nullable=False),
            sa.Column("expert_id", sa.Integer(), nullable=False),
            sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
            sa.Column("submitted", sa.Boolean(), nullable=False),
            sa.ForeignKeyConstraint(
                ["code"],
                ["project.code"],
            ),
            sa.PrimaryKeyConstraint("code", "fiscal_year", "expert_id"),
        )
        with op.batch_alter_table("evaluator_assignment", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_evaluator_assignment_username"), ["username"], unique=False
            )
    if "expert_rating" not in existing:
        op.create_table(
            "expert_rating",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("expert_id", sa.Integer(), nullable=False),
            sa.Column("project_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("fiscal_year", sa.Integer(), nullable=False),
            sa.Column("score", sa.Integer(), nullable=False),
            sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
            sa.Column("rated_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column("rated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.ForeignKeyConstraint(
                ["expert_id"],
                ["expert.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("expert_id", "project_code", "fiscal_year"),
        )
        with op.batch_alter_table("expert_rating", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_expert_rating_expert_id"), ["expert_id"], unique=False
            )
    if "project_cycle" not in existing:
        op.create_table(
            "project_cycle",
            sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("fiscal_year", sa.Integer(), nullable=False),
            sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("requested_amount", sa.Numeric(precision=20, scale=2), nullable=True),
            sa.Column("approved_amount", sa.Numeric(precision=20, scale=2), nullable=True),
            sa.Column("executed_amount", sa.Numeric(precision=20, scale=2), nullable=True),
            sa.Column("warning", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("score", sa.Numeric(precision=6, scale=2), nullable=True),
            sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
            sa.ForeignKeyConstraint(
                ["code"],
                ["project.code"],
            ),
            sa.PrimaryKeyConstraint("code", "fiscal_year"),
        )
        with op.batch_alter_table("project_cycle", schema=None) as batch_op:
            batch_op.create_index("ix_cycle_year_grade", ["fiscal_year", "grade"], unique=False)
    if "project_history" not in existing:
        op.create_table(
            "project_history",
            sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
            sa.Column("fiscal_year", sa.Integer(), nullable=True),
            sa.Column("from_state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("to_state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column("detail", sa.JSON(), nullable=False),
            sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.ForeignKeyConstraint(
                ["code"],
                ["project.code"],
            ),
            sa.PrimaryKeyConstraint("code", "seq"),
        )
    if "user" not in existing:
        op.create_table(
            "user",
            sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column(
                "password_hash", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False
            ),
            sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.ForeignKeyConstraint(
                ["department"],
                ["department.code"],
            ),
            sa.PrimaryKeyConstraint("username"),
        )


def downgrade() -> None:
    op.drop_table("user")
    op.drop_table("project_history")
    with op.batch_alter_table("project_cycle", schema=None) as batch_op:
        batch_op.drop_index("ix_cycle_year_grade")

    op.drop_table("project_cycle")
    with op.batch_alter_table("expert_rating", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_rating_expert_id"))

    op.drop_table("expert_rating")
    with op.batch_alter_table("evaluator_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluator_assignment_username"))

    op.drop_table("evaluator_assignment")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_warning"))
        batch_op.drop_index(batch_op.f("ix_project_state"))
        batch_op.drop_index(batch_op.f("ix_project_grade"))
        batch_op.drop_index("ix_project_department_state")
        batch_op.drop_index(batch_op.f("ix_project_department"))
        batch_op.drop_index(batch_op.f("ix_project_budget_type"))

    op.drop_table("project")
    with op.batch_alter_table("notification_recipient", schema=None) as batch_op:
        batch_op.drop_index("ix_recipient_desk_department")

    op.drop_table("notification_recipient")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_status_id")
        batch_op.drop_index("ix_notification_project_status")

    op.drop_table("notification")
    with op.batch_alter_table("key_evaluation_selection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_key_evaluation_selection_fiscal_year"))

    op.drop_table("key_evaluation_selection")
    op.drop_table("expert")
    op.drop_table("disclosure_release")
    op.drop_table("department_year_history")
    with op.batch_alter_table("department_year", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_department_year_state"))
        batch_op.drop_index(batch_op.f("ix_department_year_grade"))
        batch_op.drop_index(batch_op.f("ix_department_year_fiscal_year"))

    op.drop_table("department_year")
    op.drop_table("department")
    op.drop_table("calendar_setting")
