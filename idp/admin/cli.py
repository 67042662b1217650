"""`idp admins grant|revoke|list`: delegated unit administrators from the command line.

A unit administrator manages the people and units of a unit's subtree in the console and the
admin API (idp.admin.permissions). Super-administrators are people with the role "admin"
(`idp users create --role admin`); `list` shows both. Grants and revocations are audit
events ("admin.grant", "admin.revoke") whose actor is cli:<os account>.
"""

from __future__ import annotations

import sys
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from idp.admin import permissions
from idp.admin.models import UnitAdmin
from idp.commands import cli_actor, emit_json
from idp.directory import service
from idp.directory.cli import domain_errors
from idp.directory.models import Unit, User
from idp.extensions import db

admins_group = AppGroup(
    "admins", help="Administrators: super-administrators and unit administrators."
)


@admins_group.command("grant")
@click.argument("email")
@click.option(
    "--unit", "unit_code", required=True, help="Code of the unit whose subtree they administer."
)
def admins_grant(email: str, unit_code: str) -> None:
    """Make a person administrator of a unit and every unit below it."""
    with domain_errors():
        user = service.find_user(email)
        unit = service.get_unit(unit_code)
        granted = permissions.grant_unit(user, unit, actor=cli_actor())
    if granted:
        click.echo(f"{user.email} now administers {unit.code} ({unit.name}) and the units below.")
    else:
        click.echo(f"{user.email} already administered {unit.code}.")


@admins_group.command("revoke")
@click.argument("email")
@click.option("--unit", "unit_code", required=True, help="Code of the unit.")
def admins_revoke(email: str, unit_code: str) -> None:
    """Take back a person's administration of a unit's subtree."""
    with domain_errors():
        user = service.find_user(email)
        unit = service.get_unit(unit_code)
        revoked = permissions.revoke_unit(user, unit, actor=cli_actor())
    if revoked:
        click.echo(f"{user.email} no longer administers {unit.code}.")
    else:
        click.echo(f"{user.email} did not administer {unit.code}.")


def administrators() -> list[dict[str, Any]]:
    """Super-administrators, then unit administrators with their units, by address."""
    supers = [
        user
        for user in db.session.scalars(sa.select(User).order_by(sa.func.lower(User.email)))
        if permissions.SUPER_ROLE in (user.roles or [])
    ]
    grants: dict[int, list[str]] = {}
    rows = db.session.execute(
        sa.select(UnitAdmin.user_id, Unit.code)
        .join(Unit, Unit.id == UnitAdmin.unit_id)
        .order_by(Unit.code)
    )
    for user_id, code in rows:
        grants.setdefault(user_id, []).append(code)
    unit_admins = (
        db.session.scalars(
            sa.select(User).where(User.id.in_(list(grants))).order_by(sa.func.lower(User.email))
        )
        if grants
        else []
    )
    listed = [_entry(user, True, grants.get(user.id, [])) for user in supers]
    listed += [_entry(user, False, grants[user.id]) for user in unit_admins]
    return listed


def _entry(user: User, is_super: bool, units: list[str]) -> dict[str, Any]:
    return {
        "email": user.email,
        "sub": user.sub,
        "name": user.name,
        "status": user.status,
        "super_administrator": is_super,
        "units": units,
    }


@admins_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def admins_list(as_json: bool) -> None:
    """Super-administrators and unit administrators."""
    listed = administrators()
    if as_json:
        emit_json(listed)
        return
    if sys.stdout.isatty():  # a person reading: say what the columns are; pipes get rows only
        click.echo(_admin_row("EMAIL", "NAME", "STATUS", "ADMINISTERS"))
    for entry in listed:
        what = (
            "super-administrator"
            if entry["super_administrator"]
            else "units: " + ", ".join(entry["units"])
        )
        click.echo(_admin_row(entry["email"], entry["name"], entry["status"], what))
    click.echo(f"{len(listed)} administrators", err=True)


def _admin_row(email: str, name: str, status: str, what: str) -> str:
    return f"{email:<45} {name:<30} {status:<8} {what}"


def init_app(app: Flask) -> None:
    app.cli.add_command(admins_group)
