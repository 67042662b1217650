"""`idp users`, `idp units` and `idp directory` commands (`idp demo`: the demo/ package).

Each command parses its arguments, makes one call into the directory services and prints
the result: text for people, `--json` for scripts. Failures are one line on standard error
and exit status 1; an import that rejected some rows exits with status 3.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app, g
from flask.cli import AppGroup

from idp.commands import CliError, cli_actor, emit_json, local_time_plain, read_password_stdin
from idp.directory import domains, listing, records, service, units
from idp.directory.csvfile import read_csv
from idp.directory.importer import (
    UNIT_COLUMNS,
    UNIT_REQUIRED,
    ImportConflict,
    ImportSummary,
    import_units,
)
from idp.directory.ldap import config as ldap_config
from idp.directory.ldap import lock as sync_lock
from idp.directory.ldap import source as ldap_source
from idp.directory.ldap.entries import SyncSummary
from idp.directory.ldap.source import RawEntry
from idp.directory.ldap.sync import SyncRefused, record_run, sync_directory
from idp.directory.models import USER_STATUSES, User
from idp.directory.user_import import USER_COLUMNS, USER_REQUIRED, import_users
from idp.errors import IdpError
from idp.extensions import transaction

EXIT_ROWS_REJECTED = 3

users_group = AppGroup("users", help="Accounts of the directory.")
units_group = AppGroup("units", help="Organisational units (a tree).")
directory_group = AppGroup(
    "directory", help="Import the directory of accounts, or mirror an LDAP directory."
)


@contextmanager
def domain_errors() -> Iterator[None]:
    """The command's unit of work: committed at the end of the block, rolled back on an
    error; our domain exceptions become one line on standard error and exit status 1."""
    # Messages of the password policy are rendered in the default language; a command has
    # no browser whose language could be asked.
    g.locale = current_app.config["LANGUAGES"][0]
    try:
        with transaction():
            yield
    except IdpError as exc:
        raise CliError(str(exc)) from None


# -- output helpers ------------------------------------------------------------------------


def user_data(user: User) -> dict[str, Any]:
    unit = user.unit
    return {
        "sub": user.sub,
        "email": user.email,
        "aliases": user.aliases,
        "name": user.name,
        "family_name": user.family_name,
        "middle_name": user.middle_name,
        "given_name": user.given_name,
        "unit": None
        if unit is None
        else {"code": unit.code, "name": unit.name, "path": [u.code for u in unit.path()]},
        "title": user.title,
        "phone_number": user.phone_number,
        "roles": list(user.roles or []),
        "status": user.status,
        "has_password": user.password_hash is not None,
        "must_change_password": bool(user.must_change_password),
        "created_at": user.created_at.isoformat() if user.created_at else None,
        "updated_at": user.updated_at.isoformat() if user.updated_at else None,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


def _password_state(data: dict[str, Any]) -> str:
    if not data["has_password"]:
        return "none (cannot sign in)"
    return "temporary (to be changed at sign-in)" if data["must_change_password"] else "set"


def print_summary(summary: ImportSummary) -> None:
    what = "units" if summary.kind == "units" else "accounts"
    click.echo(
        f"{summary.source}: {summary.rows} rows of {what}"
        + (" (dry run)" if summary.dry_run else "")
    )
    for name, count in summary.counts().items():
        if name != "rows":
            click.echo(f"  {name:<10}{count:>7}")
    for rejection in summary.rejected:
        click.echo(f"    line {rejection.line}: {rejection.reason}")
    if summary.warnings:
        click.echo(f"  warnings  {len(summary.warnings):>7}")
    for warning in summary.warnings:
        click.echo(f"    line {warning.line}: {warning.reason}")
    if summary.ignored_columns:
        click.echo(f"  ignored columns: {', '.join(summary.ignored_columns)}")
    if summary.dry_run:
        click.echo("Dry run: nothing was written.")
    elif not summary.changed:
        click.echo("Nothing changed: the directory already matches the file.")


def run_import(kind: str, file: Path, dry_run: bool, as_json: bool) -> None:
    columns, required, function = (
        (UNIT_COLUMNS, UNIT_REQUIRED, import_units)
        if kind == "units"
        else (USER_COLUMNS, USER_REQUIRED, import_users)
    )
    with domain_errors():
        table = read_csv(file, known=columns, required=required)
        if sys.stdout.isatty() and not as_json:
            with click.progressbar(length=len(table.rows), label=f"Importing {kind}") as bar:
                summary = function(table, actor=cli_actor(), dry_run=dry_run, progress=bar.update)
        else:
            summary = function(table, actor=cli_actor(), dry_run=dry_run)
    if as_json:
        emit_json(summary.as_dict())
    else:
        print_summary(summary)
    if summary.rejected:
        sys.exit(EXIT_ROWS_REJECTED)


def import_options(fn: Any) -> Any:
    fn = click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")(fn)
    fn = click.option("--dry-run", is_flag=True, help="Check and count, but write nothing.")(fn)
    return click.argument("file", type=click.Path(dir_okay=False, path_type=Path))(fn)


# -- users ---------------------------------------------------------------------------------


@users_group.command("create")
@click.argument("email")
@click.option("--name", required=True, help='Full name, family name first: "Nguyễn Thị Minh Thư".')
@click.option("--alias", "aliases", multiple=True, help="Another address (repeatable).")
@click.option("--unit", "unit_code", help="Code of the user's unit.")
@click.option("--role", "roles", multiple=True, help="A role, e.g. admin (repeatable).")
@click.option("--title", help="Job title.")
@click.option("--phone", help="Phone number.")
@click.option("--password-stdin", is_flag=True, help="Read a password from standard input.")
@click.option("--json", "as_json", is_flag=True)
def users_create(
    email: str,
    name: str,
    aliases: tuple[str, ...],
    unit_code: str | None,
    roles: tuple[str, ...],
    title: str | None,
    phone: str | None,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Create an account. Without --password-stdin it cannot sign in until a password is set."""
    password = read_password_stdin() if password_stdin else None
    new = service.NewUser(
        email=email,
        name=name,
        aliases=aliases,
        unit_code=unit_code,
        roles=roles,
        title=title,
        phone=phone,
        password=password,
    )
    with domain_errors():
        user = service.create_user(new, actor=cli_actor())
    if as_json:
        emit_json(user_data(user))
        return
    click.echo(f"Created {user.email} (sub {user.sub}).")
    if user.password_hash is None:
        click.echo("No password: the account cannot sign in until `idp users set-password`.")


@users_group.command("list")
@click.option("--unit", "unit_code", help="Only users of this unit.")
@click.option("--subtree", is_flag=True, help="With --unit: include the units below it.")
@click.option("--status", type=click.Choice(USER_STATUSES))
@click.option(
    "--search",
    help="Part of a name or address; case and diacritics aside (nguyen van a: Nguyễn Văn A).",
)
@click.option("--limit", type=click.IntRange(1), help="At most this many accounts.")
@click.option("--json", "as_json", is_flag=True)
def users_list(
    unit_code: str | None,
    subtree: bool,
    status: str | None,
    search: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List accounts, ordered by e-mail address, as they are read (idp.directory.listing)."""
    if subtree and not unit_code:
        raise CliError("--subtree needs --unit")
    with domain_errors():
        unit_ids = None
        if unit_code:
            unit_ids = (
                service.unit_subtree_ids(unit_code) if subtree else [service.get_unit(unit_code).id]
            )
        users = listing.stream_users(unit_ids=unit_ids, status=status, search=search, limit=limit)
        with stdout_closed_early():
            count = _print_users(users, as_json)
    click.echo(f"{count} accounts", err=True)


def _print_users(users: Iterable[listing.ListedUser], as_json: bool) -> int:
    """Write each account as it comes (a JSON array with --json); how many were written."""
    out = sys.stdout
    count = 0
    if as_json:
        out.write("[")
    elif out.isatty():  # a person reading: say what the columns are; a pipe gets rows only
        out.write(_user_row("EMAIL", "NAME", "UNIT", "STATUS", "ROLES"))
    for user in users:
        if as_json:
            item = json.dumps(user.as_dict(), ensure_ascii=False, indent=2, default=str)
            out.write(("," if count else "") + "\n" + item)
        else:
            unit = user.unit.code if user.unit else "-"
            roles = ",".join(user.roles) or "-"
            out.write(_user_row(user.email, user.name, unit, user.status, roles))
        count += 1
    if as_json:
        out.write("\n]\n")
    out.flush()
    return count


def _user_row(email: str, name: str, unit: str, status: str, roles: str) -> str:
    return f"{email:<45} {name:<30} {unit:<22} {status:<8} {roles}\n"


@contextmanager
def stdout_closed_early() -> Iterator[None]:
    """`idp users list | head`: the reader went away. Not an error of ours: the rest of the
    output goes nowhere, without a BrokenPipe traceback, and the command ends normally."""
    try:
        yield
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)


@users_group.command("show")
@click.argument("identifier", metavar="EMAIL_OR_SUB")
@click.option("--json", "as_json", is_flag=True)
def users_show(identifier: str, as_json: bool) -> None:
    """Show one account, found by any of its addresses or by its sub."""
    with domain_errors():
        user = service.find_user(identifier)
    data = user_data(user)
    if as_json:
        emit_json(data)
        return
    unit = data["unit"]
    lines = [
        ("sub", data["sub"]),
        ("e-mail", data["email"]),
        ("aliases", ", ".join(data["aliases"]) or "-"),
        (
            "name",
            f"{data['name']} (family: {data['family_name'] or '-'}, middle: "
            f"{data['middle_name'] or '-'}, given: {data['given_name'] or '-'})",
        ),
        ("unit", f"{unit['code']} {user.unit.name} ({' / '.join(unit['path'])})" if unit else "-"),
        ("title", data["title"] or "-"),
        ("phone", data["phone_number"] or "-"),
        ("roles", ", ".join(data["roles"]) or "-"),
        ("status", data["status"]),
        ("password", _password_state(data)),
        ("created", local_time_plain(user.created_at)),
        ("updated", local_time_plain(user.updated_at)),
        ("last login", local_time_plain(user.last_login_at) if user.last_login_at else "never"),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<12} {value}")


@users_group.command("disable")
@click.argument("identifier", metavar="EMAIL_OR_SUB")
def users_disable(identifier: str) -> None:
    """Disable an account: it can no longer sign in, and its sessions end."""
    with domain_errors():
        user = service.find_user(identifier)
        changed = service.disable_user(user, cli_actor())
    click.echo(f"Disabled {user.email}." if changed else f"{user.email} was already disabled.")


@users_group.command("enable")
@click.argument("identifier", metavar="EMAIL_OR_SUB")
def users_enable(identifier: str) -> None:
    """Enable a disabled account."""
    with domain_errors():
        user = service.find_user(identifier)
        changed = service.enable_user(user, cli_actor())
    click.echo(f"Enabled {user.email}." if changed else f"{user.email} was already active.")


@users_group.command("set-password")
@click.argument("identifier", metavar="EMAIL_OR_SUB")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_set_password(identifier: str, password_stdin: bool) -> None:
    """Set an account's password, checked against the password policy."""
    if not password_stdin:
        raise CliError("give the password on standard input with --password-stdin")
    with domain_errors():
        user = service.find_user(identifier)
        service.set_password(user, read_password_stdin(), cli_actor())
    click.echo(f"Password of {user.email} set.")


# -- units ---------------------------------------------------------------------------------


def unit_tree() -> list[dict[str, Any]]:
    units = records.all_units()
    counts = records.user_counts_by_unit()
    nodes = {
        u.id: {
            "code": u.code,
            "name": u.name,
            "kind": u.kind,
            "active": u.active,
            "users": counts.get(u.id, 0),
            "children": [],
        }
        for u in units
    }
    roots = []
    for unit in units:  # ordered by code, so children are too
        parent = nodes.get(unit.parent_id) if unit.parent_id else None
        (parent["children"] if parent else roots).append(nodes[unit.id])
    return roots


def _print_tree(nodes: list[dict[str, Any]], depth: int = 0) -> None:
    for node in nodes:
        flags = "" if node["active"] else "  (inactive)"
        click.echo(
            f"{'  ' * depth}{node['code']}  {node['name']}  [{node['kind']}, "
            f"{node['users']} users]{flags}"
        )
        _print_tree(node["children"], depth + 1)


@units_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="The tree as nested JSON.")
def units_list(as_json: bool) -> None:
    """Show the unit tree."""
    tree = unit_tree()
    if as_json:
        emit_json(tree)
    else:
        _print_tree(tree)


@units_group.command("import")
@import_options
def units_import(file: Path, dry_run: bool, as_json: bool) -> None:
    """Create or update units from a CSV file: code, name, kind, parent_code, active.

    Parents may come after their children; cycles are rejected. Running the same file twice
    changes nothing the second time.
    """
    run_import("units", file, dry_run, as_json)


@units_group.command("rename")
@click.argument("code")
@click.argument("name")
def units_rename(code: str, name: str) -> None:
    """Give unit CODE a new NAME (its code, people and sessions stay)."""
    with domain_errors():
        changed = units.rename_unit(service.get_unit(code), name, actor=cli_actor())
    click.echo(f"Unit {code.strip()} renamed." if changed else "Nothing changed.")


@units_group.command("move")
@click.argument("code")
@click.argument("parent", required=False)
@click.option("--top", is_flag=True, help="Move the unit to the top of the tree.")
def units_move(code: str, parent: str | None, top: bool) -> None:
    """Put unit CODE, with the units below it, under PARENT (or at the top with --top).

    Every person keeps their sub and sessions; their unit claims follow.
    """
    if (parent is None) == (not top):
        raise CliError("give either a PARENT unit code or --top")
    with domain_errors():
        unit = service.get_unit(code)
        target = service.get_unit(parent) if parent else None
        changed = units.move_unit(unit, target, actor=cli_actor())
        where = f"under {target.code}" if target else "to the top"
    click.echo(f"Unit {unit.code} moved {where}." if changed else "Nothing changed.")


@units_group.command("merge")
@click.argument("source")
@click.argument("target")
def units_merge(source: str, target: str) -> None:
    """Merge unit SOURCE into TARGET: its people and child units move to TARGET, SOURCE is
    deactivated (never deleted) and its unit administrators administer TARGET."""
    with domain_errors():
        result = units.merge_units(
            service.get_unit(source), service.get_unit(target), actor=cli_actor()
        )
    click.echo(
        f"Unit {source.strip()} merged into {target.strip()}: {result.people} people and "
        f"{result.children} units moved; {source.strip()} is now inactive."
    )


@units_group.command("deactivate")
@click.argument("code")
def units_deactivate(code: str) -> None:
    """Mark unit CODE inactive; refused while active people or units are still in it."""
    with domain_errors():
        changed = units.deactivate_unit(service.get_unit(code), actor=cli_actor())
    click.echo(f"Unit {code.strip()} deactivated." if changed else "Nothing changed.")


@directory_group.command("import")
@import_options
def directory_import(file: Path, dry_run: bool, as_json: bool) -> None:
    """Create or update accounts from a CSV file (see README: columns).

    Users are matched by any of their addresses. Imported accounts get no password.
    Running the same file twice changes nothing the second time.
    """
    run_import("users", file, dry_run, as_json)


# -- LDAP sync ------------------------------------------------------------------------------

EXIT_SYNC_LOCKED = 4
EXIT_SYNC_REFUSED = 5


def _print_sync(summary: SyncSummary, show_changes: bool) -> None:
    click.echo(
        f"{summary.source}: {summary.entries} entries" + (" (dry run)" if summary.dry_run else "")
    )
    if show_changes:
        for line in summary.changes:
            click.echo(f"  {line}")
    for name, count in summary.counts().items():
        if name != "entries":
            click.echo(f"  {name:<16}{count:>7}")
    for dn, reason in summary.rejected:
        click.echo(f"    {dn}: {reason}")
    for dn, note in summary.notes:
        click.echo(f"    note: {dn}: {note}")
    if summary.refusal:
        click.echo(f"Without --force a real run would stop: {summary.refusal}")
    if summary.dry_run:
        click.echo("Dry run: nothing was written.")
    elif not summary.changed:
        click.echo("Nothing changed: the directory already matches the source.")


def _read_source(settings: ldap_config.LdapSettings, quiet: bool) -> list[RawEntry]:
    """Every entry, before anything is written; a progress count on a terminal only."""
    wanted = settings.attributes.requested(
        None if settings.unit_from in ("ou", "none") else settings.unit_from
    )
    entries = ldap_source.read_entries(settings, wanted)
    if quiet or not sys.stdout.isatty():
        return list(entries)
    with click.progressbar(entries, label="Reading the LDAP directory") as bar:
        return list(bar)


def _sync_once(
    settings: ldap_config.LdapSettings, actor: str, dry_run: bool, force: bool, quiet: bool
) -> SyncSummary:
    """One run in one transaction; a failure is recorded as the run's audit event."""
    summary = None
    try:
        with transaction():
            raw = _read_source(settings, quiet)
            summary = sync_directory(raw, settings, actor=actor, dry_run=dry_run, force=force)
        return summary
    except SyncRefused as exc:
        if not dry_run:
            with transaction():
                record_run(exc.summary, actor, outcome="refused", error=str(exc))
        raise
    except (ldap_source.SourceUnavailable, ImportConflict, sa.exc.SQLAlchemyError) as exc:
        if not dry_run:
            with transaction():
                record_run(
                    SyncSummary(source=f"{settings.url}/{settings.base_dn}", dry_run=False),
                    actor,
                    outcome="failure",
                    error=str(exc) if isinstance(exc, IdpError) else exc.__class__.__name__,
                )
        raise


@directory_group.command("sync")
@click.option("--dry-run", is_flag=True, help="Read the source and print the differences only.")
@click.option("--force", is_flag=True, help="Go on even past IDP_LDAP_SYNC_MAX_DISABLE_PERCENT.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def directory_sync(dry_run: bool, force: bool, as_json: bool) -> None:
    """Mirror the LDAP directory (IDP_LDAP_* settings): create, update, move, disable.

    Safe from cron: two runs never overlap, nothing is deleted, a source that answers
    nothing disables nobody, and a failed run writes nothing but its audit event.
    """
    try:
        settings = ldap_config.ldap_settings(current_app.config)
    except ldap_config.LdapNotConfigured as exc:
        raise CliError(str(exc)) from None
    actor = cli_actor()
    holder = sync_lock.new_holder()
    if not dry_run:
        held = sync_lock.acquire(holder, settings.lock_stale_seconds)
        if held is not None:
            click.echo(
                f"Error: another sync is running ({held.holder}, since "
                f"{local_time_plain(held.acquired_at)}); nothing was done.",
                err=True,
            )
            sys.exit(EXIT_SYNC_LOCKED)
    try:
        summary = _sync_once(settings, actor, dry_run, force, as_json)
    except SyncRefused as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_SYNC_REFUSED)
    except ldap_source.SourceUnavailable as exc:
        raise CliError(f"sync failed, nothing was written: {exc}") from None
    except (ImportConflict, sa.exc.SQLAlchemyError):
        raise CliError(
            "sync failed, nothing was written: the database refused the changes "
            "(the directory changed meanwhile?); run it again"
        ) from None
    finally:
        if not dry_run:
            sync_lock.release(holder)
    if as_json:
        emit_json(summary.as_dict())
    else:
        _print_sync(summary, show_changes=dry_run)
    if summary.rejected:
        sys.exit(EXIT_ROWS_REJECTED)


@directory_group.command("rename-domain")
@click.argument("old")
@click.argument("new")
@click.option("--unit", "unit_code", help="Only the people of this unit and the units below.")
@click.option("--dry-run", is_flag=True, help="Show what would change, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def directory_rename_domain(
    old: str, new: str, unit_code: str | None, dry_run: bool, as_json: bool
) -> None:
    """Move primary addresses from domain OLD to NEW; the old addresses stay as aliases.

    Everyone's sub stays and both addresses sign in; the email claim becomes the new
    address. A person whose new address belongs to someone else is left as they are and
    listed (exit status 3).
    """
    with domain_errors():
        result = domains.rename_domain(
            old, new, actor=cli_actor(), unit_code=unit_code, dry_run=dry_run
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        _print_domain_rename(result)
    if result.refused:
        sys.exit(EXIT_ROWS_REJECTED)


def _print_domain_rename(result: domains.DomainRename) -> None:
    click.echo(
        f"{result.old_domain} -> {result.new_domain}"
        + (f" (unit {result.unit} and below)" if result.unit else "")
        + (" (dry run)" if result.dry_run else "")
    )
    click.echo(f"  changed {len(result.changed):>7}")
    click.echo(f"  refused {len(result.refused):>7}")
    for clash in result.refused:
        click.echo(f"    {clash.old}: {clash.new} {clash.reason}")
    if result.dry_run:
        click.echo("Dry run: nothing was written.")


def init_app(app: Flask) -> None:
    for group in (users_group, units_group, directory_group):
        app.cli.add_command(group)
