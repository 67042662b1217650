"""upstreams: links to upstream identities, upstream sessions, pending links

Revision ID: 0017_upstreams
Revises: 0016_directory_sync
Create Date: 2026-12-06 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_upstreams'
down_revision = '0016_directory_sync'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'upstream_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('upstream', sa.String(length=64), nullable=False),
        sa.Column('link_key', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('linked_by', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('upstream', 'link_key'),
    )
    op.create_index('ix_upstream_links_user_id', 'upstream_links', ['user_id'])
    op.create_table(
        'upstream_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sso_session_id', sa.Integer(), nullable=False),
        sa.Column('upstream', sa.String(length=64), nullable=False),
        sa.Column('sub', sa.String(length=255), nullable=False),
        sa.Column('sid', sa.String(length=255), nullable=True),
        sa.Column('id_token_sealed', sa.Text(), nullable=True),
        sa.Column('acr', sa.String(length=255), nullable=True),
        sa.Column('loas', sa.JSON(), nullable=False),
        sa.Column('amr', sa.JSON(), nullable=False),
        sa.Column('level', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['sso_session_id'], ['sso_sessions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sso_session_id'),
    )
    op.create_index(
        'ix_upstream_sessions_upstream_sub', 'upstream_sessions', ['upstream', 'sub']
    )
    op.create_index(
        'ix_upstream_sessions_upstream_sid', 'upstream_sessions', ['upstream', 'sid']
    )
    op.create_table(
        'upstream_pending_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('handle_hash', sa.String(length=64), nullable=False),
        sa.Column('upstream', sa.String(length=64), nullable=False),
        sa.Column('identity_sealed', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('handle_hash'),
    )
    op.create_index(
        'ix_upstream_pending_links_expires_at', 'upstream_pending_links', ['expires_at']
    )


def downgrade():
    op.drop_index('ix_upstream_pending_links_expires_at', table_name='upstream_pending_links')
    op.drop_table('upstream_pending_links')
    op.drop_index('ix_upstream_sessions_upstream_sid', table_name='upstream_sessions')
    op.drop_index('ix_upstream_sessions_upstream_sub', table_name='upstream_sessions')
    op.drop_table('upstream_sessions')
    op.drop_index('ix_upstream_links_user_id', table_name='upstream_links')
    op.drop_table('upstream_links')
