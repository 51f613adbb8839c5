"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:01:28.269072
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('churn_scores',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('as_of', sa.DateTime(), nullable=False),
    sa.Column('model_version', sa.String(length=80), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('band', sa.String(length=16), nullable=False),
    sa.Column('segment', sa.String(length=32), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('customer_id', 'as_of', 'model_version', name='uq_churn_customer_asof_model')
    )
    op.create_index(op.f('ix_churn_scores_customer_id'), 'churn_scores', ['customer_id'], unique=False)
    op.create_index(op.f('ix_churn_scores_run_id'), 'churn_scores', ['run_id'], unique=False)
    op.create_table('customers',
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('signup_date', sa.DateTime(), nullable=True),
    sa.Column('tenure_months', sa.Float(), nullable=True),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('orders', sa.Float(), nullable=True),
    sa.Column('spend', sa.Float(), nullable=True),
    sa.Column('last_activity', sa.DateTime(), nullable=True),
    sa.Column('churned', sa.Boolean(), nullable=True),
    sa.Column('churn_date', sa.DateTime(), nullable=True),
    sa.Column('crm_risk', sa.Float(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('customer_id')
    )
    op.create_table('feedback',
    sa.Column('feedback_id', sa.String(length=80), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_file', sa.Text(), nullable=True),
    sa.Column('row_number', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=True),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('rating', sa.Float(), nullable=True),
    sa.Column('nps_score', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('language_confidence', sa.Float(), nullable=True),
    sa.Column('raw_text', sa.Text(), nullable=False),
    sa.Column('normalised_text', sa.Text(), nullable=False),
    sa.Column('cues', sa.JSON(), nullable=True),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('ingested_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('feedback_id')
    )
    op.create_index(op.f('ix_feedback_created_at'), 'feedback', ['created_at'], unique=False)
    op.create_index(op.f('ix_feedback_customer_id'), 'feedback', ['customer_id'], unique=False)
    op.create_index(op.f('ix_feedback_language'), 'feedback', ['language'], unique=False)
    op.create_index(op.f('ix_feedback_run_id'), 'feedback', ['run_id'], unique=False)
    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('row_key', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('source_file', sa.Text(), nullable=True),
    sa.Column('row_number', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=True),
    sa.Column('quarantined_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('row_key')
    )
    op.create_index(op.f('ix_quarantine_reason'), 'quarantine', ['reason'], unique=False)
    op.create_index(op.f('ix_quarantine_run_id'), 'quarantine', ['run_id'], unique=False)
    op.create_table('runs',
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('command', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=True),
    sa.Column('rows_read', sa.Integer(), nullable=True),
    sa.Column('analysed', sa.Integer(), nullable=True),
    sa.Column('quarantined', sa.Integer(), nullable=True),
    sa.Column('duplicates', sa.Integer(), nullable=True),
    sa.Column('languages', sa.JSON(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_table('analysis',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('feedback_id', sa.String(length=80), nullable=False),
    sa.Column('model_version', sa.String(length=80), nullable=False),
    sa.Column('sentiment', sa.String(length=16), nullable=False),
    sa.Column('sentiment_probs', sa.JSON(), nullable=False),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('theme_sentiment', sa.JSON(), nullable=False),
    sa.Column('is_complaint', sa.Boolean(), nullable=False),
    sa.Column('analysed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.feedback_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('feedback_id', 'model_version', name='uq_analysis_item_model')
    )


def downgrade() -> None:
    op.drop_table('analysis')
    op.drop_table('runs')
    op.drop_index(op.f('ix_quarantine_run_id'), table_name='quarantine')
    op.drop_index(op.f('ix_quarantine_reason'), table_name='quarantine')
    op.drop_table('quarantine')
    op.drop_index(op.f('ix_feedback_run_id'), table_name='feedback')
    op.drop_index(op.f('ix_feedback_language'), table_name='feedback')
    op.drop_index(op.f('ix_feedback_customer_id'), table_name='feedback')
    op.drop_index(op.f('ix_feedback_created_at'), table_name='feedback')
    op.drop_table('feedback')
    op.drop_table('customers')
    op.drop_index(op.f('ix_churn_scores_run_id'), table_name='churn_scores')
    op.drop_index(op.f('ix_churn_scores_customer_id'), table_name='churn_scores')
    op.drop_table('churn_scores')
