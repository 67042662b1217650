"""`idp keys list`, `idp keys rotate` and `idp keys reencrypt`."""

from __future__ import annotations

import os

import click
from flask import Flask
from flask.cli import with_appcontext

from idp import audit
from idp.commands import CliError, cli_actor, emit_json, local_time_plain
from idp.extensions import db
from idp.keys.crypto import KeyDecryptionError
from idp.keys.ring import (
    SUPPORTED_ALGS,
    KeyRingError,
    ensure_keys,
    list_keys,
    reencrypt,
    rotate,
    rotation_due,
)


@click.group("keys")
def keys_group() -> None:
    """Signing keys: list and rotate."""


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def list_command(as_json: bool) -> None:
    """Every key with its state (next, current, retired) and dates."""
    if ensure_keys():
        db.session.commit()
    rows = [
        {
            "kid": k.kid,
            "alg": k.alg,
            "state": k.state,
            "created_at": k.created_at.isoformat(),
            "activated_at": k.activated_at.isoformat() if k.activated_at else None,
            "retired_at": k.retired_at.isoformat() if k.retired_at else None,
            "remove_after": k.remove_after.isoformat() if k.remove_after else None,
        }
        for k in list_keys()
    ]
    if as_json:
        emit_json(rows)
        return
    for k in list_keys():
        dates = f"created {local_time_plain(k.created_at)}"
        if k.remove_after:
            dates += f", published until {local_time_plain(k.remove_after)}"
        click.echo(f"{k.kid:32} {k.alg:6} {k.state:8} {dates}")


@keys_group.command("rotate")
@click.option(
    "--alg",
    "algs",
    multiple=True,
    type=click.Choice(SUPPORTED_ALGS),
    help="Algorithm to rotate (default: every configured one).",
)
@click.option(
    "--if-due", is_flag=True, help="Only rotate keys older than KEY_ROTATION_DAYS (for cron)."
)
@click.option(
    "--force", is_flag=True, help="Rotate even if the next key is newly published (key compromise)."
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def rotate_command(algs: tuple[str, ...], if_due: bool, force: bool, as_json: bool) -> None:
    """Promote each next key to current, retire the current one, publish a fresh next key."""
    from flask import current_app

    chosen = list(algs) or list(current_app.config["KEY_ALGORITHMS"])
    results = []
    try:
        for alg in chosen:
            if if_due and not rotation_due(alg):
                continue
            result = rotate(alg, force=force)
            audit.record(
                "keys.rotate",
                actor=cli_actor(),
                subject=result.current,
                detail={
                    "alg": alg,
                    "retired": result.retired,
                    "next": result.next,
                    "forced": force,
                },
            )
            results.append(result)
        db.session.commit()
    except KeyRingError as exc:
        db.session.rollback()
        raise CliError(str(exc)) from exc
    if as_json:
        emit_json([r.__dict__ for r in results])
        return
    if not results:
        click.echo("no rotation due")
    for r in results:
        click.echo(
            f"{r.alg}: current {r.current} (was {r.retired or '-'}), next {r.next} published"
        )


@keys_group.command("reencrypt")
@click.option(
    "--previous-key-env",
    required=True,
    metavar="NAME",
    help="Environment variable holding the key the private keys were stored under.",
)
@with_appcontext
def reencrypt_command(previous_key_env: str) -> None:
    """Re-encrypt the stored private keys under the configured IDP_KEY_ENCRYPTION_KEY.

    For a new key-encryption key, or a database whose keys were stored under
    IDP_SECRET_KEY (the development fallback). The previous key is read from the
    environment, never from the command line (which other users of the host can see).
    """
    previous = os.environ.get(previous_key_env)
    if not previous:
        raise CliError(f"the environment variable {previous_key_env} is not set")
    try:
        changed = reencrypt(previous)
    except KeyDecryptionError as exc:
        db.session.rollback()
        raise CliError(
            f"a stored key opens neither with IDP_KEY_ENCRYPTION_KEY nor with {previous_key_env}"
        ) from exc
    audit.record("keys.reencrypt", actor=cli_actor(), detail={"keys": changed})
    db.session.commit()
    click.echo(f"{changed} private key(s) re-encrypted")


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_group)
