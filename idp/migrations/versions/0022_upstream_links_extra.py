"""upstream_links_extra: the replay cache of upstream logout tokens, and the accounts
created at a first sign-in through an upstream

Revision ID: 0022_upstream_links_extra
Revises: 0018_people_search
Create Date: 2026-12-06 11:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_upstream_links_extra'
down_revision = '0018_people_search'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'upstream_logout_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('upstream', sa.String(length=64), nullable=False),
        sa.Column('jti_hash', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('jti_hash'),
    )
    op.create_index(
        'ix_upstream_logout_tokens_upstream', 'upstream_logout_tokens', ['upstream']
    )
    op.create_index(
        'ix_upstream_logout_tokens_expires_at', 'upstream_logout_tokens', ['expires_at']
    )
    op.create_table(
        'upstream_account_origins',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('upstream', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )


def downgrade():
    op.drop_table('upstream_account_origins')
    op.drop_index('ix_upstream_logout_tokens_expires_at', table_name='upstream_logout_tokens')
    op.drop_index('ix_upstream_logout_tokens_upstream', table_name='upstream_logout_tokens')
    op.drop_table('upstream_logout_tokens')
