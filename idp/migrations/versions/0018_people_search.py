"""people search: users.search_name, the folded full name the console searches

Revision ID: 0018_people_search
Revises: 0017_upstreams
Create Date: 2026-12-06 11:00:00.000000

"""
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_people_search'
down_revision = '0017_upstreams'
branch_labels = None
depends_on = None

# Rows filled per UPDATE round trip.
BATCH = 500


def _fold(text):
    """A frozen copy of idp.directory.models.fold_for_search (a migration must not change
    when the code does)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "d"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def _fill(bind):
    users = sa.table(
        'users',
        sa.column('id', sa.Integer),
        sa.column('family_name', sa.String),
        sa.column('middle_name', sa.String),
        sa.column('given_name', sa.String),
        sa.column('search_name', sa.String),
    )
    rows = bind.execute(
        sa.select(users.c.id, users.c.family_name, users.c.middle_name, users.c.given_name)
    ).all()
    values = [
        {'uid': row.id, 'folded': _fold(' '.join(p for p in row[1:] if p))[:400]}
        for row in rows
    ]
    update = (
        sa.update(users)
        .where(users.c.id == sa.bindparam('uid'))
        .values(search_name=sa.bindparam('folded'))
    )
    for start in range(0, len(values), BATCH):
        bind.execute(update, values[start : start + BATCH])


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('search_name', sa.String(length=400), server_default='', nullable=False)
        )
        batch_op.create_index(batch_op.f('ix_users_search_name'), ['search_name'], unique=False)
    _fill(op.get_bind())


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_search_name'))
        batch_op.drop_column('search_name')
