"""Expand: add customer.nickname (nullable, so every running version keeps working).

Revision ID: a1
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = None


def upgrade() -> None:
    op.add_column("customer", sa.Column("nickname", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("customer", "nickname")
