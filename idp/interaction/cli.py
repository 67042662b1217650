"""The `idp users` commands of the sign-in side, added to the directory's group (they send
mail, end sessions and reset sign-in counters, which the directory itself does not do):

- `idp users invite` and `idp users reset-password`, password self-service. `invite`
  commits one batch at a time (INVITE_BATCH_SIZE accounts), so an interrupted run keeps
  what it sent and a second run leaves out whoever has a usable link already.
- `idp users unlock`, the help desk ending an account's sign-in delays (the counters belong
  to idp.interaction.throttle).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import click
from flask import current_app

from idp.commands import CliError, cli_actor, emit_json, read_password_stdin
from idp.directory import service
from idp.directory.cli import domain_errors, users_group
from idp.directory.store import get_user
from idp.extensions import transaction, utcnow
from idp.interaction import passwords
from idp.interaction.service import unlock_account

# A temporary password made for the administrator: 16 characters from this alphabet
# (about 90 bits), with no characters that are easily misread (0/O, 1/l/I).
TEMPORARY_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TEMPORARY_LENGTH = 16


def _selection(unit_code: str | None, subtree: bool) -> list[int] | None:
    if not unit_code:
        return None
    if subtree:
        return service.unit_subtree_ids(unit_code)
    return [service.get_unit(unit_code).id]


@users_group.command("invite")
@click.option("--unit", "unit_code", help="Only accounts of this unit.")
@click.option("--subtree", is_flag=True, help="With --unit: include the units below it.")
@click.option("--without-password", is_flag=True, help="Only accounts that have no password yet.")
@click.option("--dry-run", is_flag=True, help="Say who would be invited; send nothing.")
@click.option("--json", "as_json", is_flag=True)
def users_invite(
    unit_code: str | None, subtree: bool, without_password: bool, dry_run: bool, as_json: bool
) -> None:
    """Send each selected active account a single-use link to set its password.

    The mails are queued in batches of INVITE_BATCH_SIZE, each batch due
    INVITE_BATCH_INTERVAL_SECONDS after the previous one (`idp worker` sends them); each
    link is valid ACTIVATION_LINK_SECONDS from when its mail is due. Accounts whose
    earlier invitation is still usable are left out."""
    if subtree and not unit_code:
        raise CliError("--subtree needs --unit")
    cfg = current_app.config
    size, interval = int(cfg["INVITE_BATCH_SIZE"]), int(cfg["INVITE_BATCH_INTERVAL_SECONDS"])
    with domain_errors():
        chosen = passwords.select_invitation(
            _selection(unit_code, subtree), without_password=without_password
        )
        ids = [u.id for u in chosen.users]
        emails = [u.email for u in chosen.users]
        skipped = [u.email for u in chosen.already_invited]
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    if not dry_run:
        start = utcnow()
        for number, batch in enumerate(batches):
            # One transaction per batch: what is committed stays sent if a later one fails.
            with transaction():
                users = [get_user(user_id) for user_id in batch]
                send_after = start + timedelta(seconds=number * interval)
                passwords.invite(users, actor=cli_actor(), send_after=send_after)
    summary = {
        "invited": 0 if dry_run else len(ids),
        "would_invite": len(ids) if dry_run else 0,
        "already_invited": len(skipped),
        "batches": len(batches),
        "dry_run": dry_run,
    }
    if as_json:
        emit_json({**summary, "emails": emails, "already_invited_emails": skipped})
        return
    if dry_run:
        for email in emails:
            click.echo(email)
    verb = "Would invite" if dry_run else "Invited"
    click.echo(
        f"{verb} {len(ids)} accounts in {len(batches)} batches of at most {size} "
        f"({interval} s apart); {len(skipped)} left out (an invitation still usable)."
    )


@users_group.command("reset-password")
@click.argument("identifier", metavar="EMAIL_OR_SUB")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the temporary password from standard input (else one is made and printed).",
)
def users_reset_password(identifier: str, password_stdin: bool) -> None:
    """Give an account a temporary password that must be changed at its next sign-in.

    Every session and grant of the account ends, its open password links stop working,
    and the person is told by e-mail (the temporary password is not in that mail: give
    it to them yourself)."""
    temporary = (
        read_password_stdin()
        if password_stdin
        else "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(TEMPORARY_LENGTH))
    )
    with domain_errors():
        user = service.find_user(identifier)
        ended = passwords.admin_reset(user, temporary, actor=cli_actor())
    click.echo(
        f"Password of {user.email} reset; {ended} sessions ended. "
        "A new password will be asked for at the next sign-in."
    )
    if not password_stdin:
        click.echo(f"Temporary password: {temporary}")


@users_group.command("unlock")
@click.argument("identifier", metavar="EMAIL_OR_SUB")
@click.option("--json", "as_json", is_flag=True)
def users_unlock(identifier: str, as_json: bool) -> None:
    """End an account's sign-in delays: its failures are forgotten on every browser.

    Those of client addresses stay (they hold back guessing at every account). Recorded in
    the audit log (login.unlock) with the operator.
    """
    with domain_errors():
        user = service.find_user(identifier)
        cleared = unlock_account(user, cli_actor())
    if as_json:
        emit_json({"sub": user.sub, "email": user.email, **cleared})
        return
    if cleared["held_back"]:
        click.echo(f"Unlocked {user.email}: it can sign in again at once.")
    elif cleared["counters"]:
        click.echo(f"{user.email} was not held back; its failures are forgotten.")
    else:
        click.echo(f"{user.email} had no failed sign-ins to forget.")
