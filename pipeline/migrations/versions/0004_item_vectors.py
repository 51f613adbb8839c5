"""item_vectors: each analysed item's encoder vector, for re-theming without the input files

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('item_vectors',
    sa.Column('feedback_id', sa.String(length=80), nullable=False),
    sa.Column('encoder', sa.String(length=80), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.feedback_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('feedback_id')
    )


def downgrade() -> None:
    op.drop_table('item_vectors')
