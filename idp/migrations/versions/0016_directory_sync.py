"""directory sync: users mirrored from an LDAP source, and the lock of a running sync

Revision ID: 0016_directory_sync
Revises: 0015_unit_admins
Create Date: 2026-12-06 10:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_directory_sync'
down_revision = '0015_unit_admins'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column(
                'disabled_by_source', sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.create_unique_constraint(
            'uq_users_source_external_id', ['source', 'external_id']
        )
    op.create_table(
        'directory_sync_locks',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('holder', sa.String(length=255), nullable=True),
        sa.Column('acquired_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade():
    op.drop_table('directory_sync_locks')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_source_external_id', type_='unique')
        batch_op.drop_column('disabled_by_source')
        batch_op.drop_column('external_id')
        batch_op.drop_column('source')
