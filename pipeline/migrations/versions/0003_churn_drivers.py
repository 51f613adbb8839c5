"""churn_drivers: the theme-to-churn table of each churn snapshot, written by the churn run

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('churn_drivers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('as_of', sa.DateTime(), nullable=False),
    sa.Column('model_version', sa.String(length=80), nullable=False),
    sa.Column('theme', sa.String(length=64), nullable=False),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('as_of', 'model_version', 'theme', name='uq_churn_driver_asof_model_theme')
    )


def downgrade() -> None:
    op.drop_table('churn_drivers')
