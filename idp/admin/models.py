"""Delegated administration: which people administer which units' subtrees.

A person with the role "admin" is a provincial super-administrator and needs no row here.
A row makes its person the administrator of a unit and of every unit below it (a district's
IT officer manages that district). Rows follow their unit through a merge
(idp.admin.permissions.move_grants) and go with their person or unit.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import UTCDateTime, db, utcnow


class UnitAdmin(db.Model):
    __tablename__ = "unit_admins"
    __table_args__ = (sa.UniqueConstraint("user_id", "unit_id", name="uq_unit_admins_user_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id", ondelete="CASCADE"), index=True)
    # Who granted it: a sub, "cli:<os user>" or a client_id.
    granted_by: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
