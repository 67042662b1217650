"""login throttle: last failure and refused attempts; ended sessions indexed for cleanup

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 01:41:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_failure_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('refused', sa.Integer(), server_default='0', nullable=False))
    # Counters written before this revision: their last failure is taken as their first.
    op.execute('UPDATE login_throttle SET last_failure_at = window_start')
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.alter_column('last_failure_at', existing_type=sa.DateTime(), nullable=False)

    with op.batch_alter_table('sso_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_sessions_ended_at'), ['ended_at'], unique=False)


def downgrade():
    with op.batch_alter_table('sso_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sso_sessions_ended_at'))

    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_column('refused')
        batch_op.drop_column('last_failure_at')
