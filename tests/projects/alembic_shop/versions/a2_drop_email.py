"""Contract: drop customer.email once no protected version reads it.

Revision ID: a2
Revises: a1
"""

import sqlalchemy as sa
from alembic import op

revision = "a2"
down_revision = "a1"


def upgrade() -> None:
    op.drop_column("customer", "email")


def downgrade() -> None:
    op.add_column("customer", sa.Column("email", sa.Text(), nullable=True))
