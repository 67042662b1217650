"""client jwks: keys at private_key_jwt clients' jwks_uri, fetched outside requests

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'oauth_client_jwks',
        sa.Column('client_id', sa.String(length=128), nullable=False),
        sa.Column('jwks_uri', sa.Text(), nullable=False),
        sa.Column('jwks', sa.JSON(), nullable=True),
        sa.Column('fetched_at', sa.DateTime(), nullable=True),
        sa.Column('next_fetch_at', sa.DateTime(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['oauth_clients.client_id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('client_id'),
    )


def downgrade():
    op.drop_table('oauth_client_jwks')
