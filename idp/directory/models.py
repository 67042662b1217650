"""Directory tables: organisational units (a tree), users and their e-mail addresses."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.extensions import UTCDateTime, db, utcnow

USER_ACTIVE = "active"
USER_DISABLED = "disabled"
USER_STATUSES = (USER_ACTIVE, USER_DISABLED)

UNIT_KINDS = (
    "province",
    "department",
    "sub_unit",
    "district",
    "office",
    "commune",
    "high_school",
    "school",
    "health_centre",
    "other",
)


def new_sub() -> str:
    """A stable, opaque subject identifier: never derived from the e-mail or the name.

    Never starting with "-": `idp users show SUB` would read such a sub as an option.
    """
    while True:
        sub = secrets.token_urlsafe(16)
        if not sub.startswith("-"):
            return sub


# The longest folded full name: three parts of at most 128 characters and two spaces.
SEARCH_NAME_MAX_LENGTH = 400


def ascii_fold(text: str) -> str:
    """Vietnamese text without diacritics: "Đặng Thị Ánh" -> "Dang Thi Anh". Decomposing
    first (NFD) makes precomposed and combining forms of the same letter fold alike."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold_for_search(text: str) -> str:
    """Text as people type it when searching: lower-case, without diacritics, with đ as d
    and single spaces ("Nguyễn  Văn Ánh" -> "nguyen van anh")."""
    return " ".join(ascii_fold(text).casefold().split())


# The columns a full name is made of, in Vietnamese order.
NAME_COLUMNS = ("family_name", "middle_name", "given_name")


def search_name_of(family_name: str | None, middle_name: str | None, given_name: str | None) -> str:
    """The users.search_name of a person with these name parts. Every write path uses it:
    the ORM hook below for single accounts, idp.directory.records for the bulk import and
    the sync, which write through Core and so skip that hook."""
    full = " ".join(p for p in (family_name, middle_name, given_name) if p)
    return fold_for_search(full)[:SEARCH_NAME_MAX_LENGTH]


def normalize_email(address: str) -> str:
    """The form addresses are compared and stored in: trimmed and lower-cased."""
    return address.strip().lower()


class Unit(db.Model):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(32), default="other")
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("units.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")

    def path(self) -> list[Unit]:
        """Units from the root down to this one."""
        chain: list[Unit] = []
        node: Unit | None = self
        seen: set[int] = set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            chain.append(node)
            node = node.parent
        return list(reversed(chain))


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_sub)
    # The primary address, as written; every address (primary included) is also a row of
    # user_emails, whose unique index keeps addresses unique across all users.
    email: Mapped[str] = mapped_column(sa.String(320))
    family_name: Mapped[str] = mapped_column(sa.String(128), default="")
    middle_name: Mapped[str] = mapped_column(sa.String(128), default="")
    given_name: Mapped[str] = mapped_column(sa.String(128), default="")
    phone_number: Mapped[str | None] = mapped_column(sa.String(32))
    title: Mapped[str | None] = mapped_column(sa.String(255))
    unit_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("units.id", ondelete="SET NULL"), index=True
    )
    roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(16), default=USER_ACTIVE)
    password_hash: Mapped[str | None] = mapped_column(sa.String(512))
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # fold_for_search(name), kept up to date by the ORM (_fold_name below) and by the bulk
    # writes of idp.directory.records, and filled for older rows by migration 0018: the
    # console finds "Nguyễn Văn A" from "nguyen van a".
    search_name: Mapped[str] = mapped_column(
        sa.String(SEARCH_NAME_MAX_LENGTH), default="", server_default="", index=True
    )
    # Set by an administrator's reset (a temporary password): the next sign-in must choose a
    # new password before any session starts (idp.interaction.passwords).
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Where the account is mirrored from ("ldap": `idp directory sync`), and its stable
    # identifier there (entryUUID, objectGUID): a renamed entry or a changed mail address
    # is the same person, with the same sub. NULL for accounts of our own.
    source: Mapped[str | None] = mapped_column(sa.String(16))
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    # Disabled by the sync (gone from or locked in the source), so it may enable the
    # account again when the source does; a local `idp users disable` it never undoes.
    disabled_by_source: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_users_source_external_id"),
    )

    unit: Mapped[Unit | None] = relationship()
    addresses: Mapped[list[UserEmail]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="UserEmail.id"
    )

    @property
    def name(self) -> str:
        """Full name in Vietnamese order: family, middle, given."""
        return " ".join(p for p in (self.family_name, self.middle_name, self.given_name) if p)

    @property
    def aliases(self) -> list[str]:
        primary = normalize_email(self.email)
        return [a.email for a in self.addresses if a.address != primary]

    @property
    def is_active(self) -> bool:
        return self.status == USER_ACTIVE

    @property
    def is_admin(self) -> bool:
        return "admin" in (self.roles or [])


@sa.event.listens_for(User, "before_insert")
@sa.event.listens_for(User, "before_update")
def _fold_name(_mapper, _connection, user: User) -> None:
    """Commands and the console change names through the ORM; this keeps the folded copy the
    search reads in step. The bulk writers (import, sync) fill it themselves
    (idp.directory.records), since Core statements skip this hook."""
    user.search_name = search_name_of(user.family_name, user.middle_name, user.given_name)


class UserEmail(db.Model):
    """One address of a user: the primary one or an alias."""

    __tablename__ = "user_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    # normalize_email(email): the unique key that sign-in looks up.
    address: Mapped[str] = mapped_column(sa.String(320), unique=True)

    user: Mapped[User] = relationship(back_populates="addresses")


# AccountToken.purpose values.
PURPOSE_ACTIVATION = "activation"
PURPOSE_RESET = "reset"
TOKEN_PURPOSES = (PURPOSE_ACTIVATION, PURPOSE_RESET)


class AccountToken(db.Model):
    """A single-use link sent by e-mail to set a password: activation of an imported
    account, or a reset. Only the SHA-256 of the token is stored (idp.directory.tokens)."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set once, by the conditional UPDATE that uses the link (or voids it): never cleared.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who had it sent: "anonymous" (forgot password), "cli:<os user>", an administrator's sub.
    created_by: Mapped[str] = mapped_column(sa.String(255))

    user: Mapped[User] = relationship()


class DirectorySyncLock(db.Model):
    """Who runs a sync of the directory now: one row per source, so two syncs (cron every
    few minutes, an operator by hand) never overlap, on SQLite as on PostgreSQL. A holder
    older than LDAP_SYNC_LOCK_STALE_SECONDS is taken to have died and is replaced."""

    __tablename__ = "directory_sync_locks"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(sa.String(255))
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
