"""unit_admins: delegated administrators of a unit's subtree

Revision ID: 0015_unit_admins
Revises: 0014_passkeys
Create Date: 2026-12-06 10:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_unit_admins'
down_revision = '0014_passkeys'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'unit_admins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('granted_by', sa.String(length=255), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'unit_id', name='uq_unit_admins_user_unit'),
    )
    op.create_index('ix_unit_admins_user_id', 'unit_admins', ['user_id'])
    op.create_index('ix_unit_admins_unit_id', 'unit_admins', ['unit_id'])


def downgrade():
    op.drop_index('ix_unit_admins_unit_id', table_name='unit_admins')
    op.drop_index('ix_unit_admins_user_id', table_name='unit_admins')
    op.drop_table('unit_admins')
