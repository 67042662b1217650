"""`idp clients ...` and `idp registration-token ...`: the relying-party registry from a shell.

Secrets are printed once, when created or rotated, and stored only as hashes; no command
ever prints a stored secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from idp.clients import initial_access, manifests, service
from idp.clients.metadata import MetadataPolicy, policy_from_config
from idp.clients.models import Client
from idp.commands import CliError, cli_actor, emit_json, local_time_plain
from idp.errors import IdpError
from idp.extensions import commit, rollback, transaction

SECRET_NOTICE = "Store this secret now: it is shown only once and only its hash is kept."


def cli_policy() -> MetadataPolicy:
    return policy_from_config(current_app.config, dynamic=False)


def _fail(exc: Exception) -> CliError:
    rollback()
    return CliError(str(exc))


def _metadata_option(value: str | None) -> dict[str, Any]:
    """--metadata: a JSON object, inline or from @FILE."""
    if not value:
        return {}
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read {value[1:]}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CliError(f"--metadata is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CliError("--metadata must be a JSON object")
    if "client_secret" in data:
        raise CliError("secrets are generated, never given: use `idp clients rotate-secret`")
    return data


def _metadata_from_options(opts: dict[str, Any], *, update: bool) -> dict[str, Any]:
    """RFC 7591 metadata from the command-line options that were given."""
    data = _metadata_option(opts.get("metadata"))
    lists = {
        "redirect_uri": "redirect_uris",
        "post_logout_redirect_uri": "post_logout_redirect_uris",
        "grant_type": "grant_types",
        "response_type": "response_types",
        "audience": "allowed_audiences",
        "resource_server_audience": "resource_server_audiences",
        "contact": "contacts",
        "acr": "default_acr_values",
    }
    for option, name in lists.items():
        if opts.get(option):
            data[name] = list(opts[option])
    scalars = {
        "name": "client_name",
        "auth_method": "token_endpoint_auth_method",
        "scope": "scope",
        "application_type": "application_type",
        "logo_uri": "logo_uri",
        "client_uri": "client_uri",
        "backchannel_logout_uri": "backchannel_logout_uri",
        "frontchannel_logout_uri": "frontchannel_logout_uri",
        "admin_automation": "admin_automation",
    }
    for option, name in scalars.items():
        if opts.get(option) is not None:
            data[name] = opts[option]
    if update:
        if "grant_types" in data and "response_types" not in data:
            data["response_types"] = None  # recomputed from the new grant types
        for name in opts.get("unset") or ():
            data[name] = None
    return data


def _settings(opts: dict[str, Any], client: Client | None = None) -> service.ClientSettings:
    def pick(name: str) -> Any:
        value = opts.get(name)
        return value if value is not None else (getattr(client, name) if client else None)

    first_party = opts.get("first_party")
    if first_party is None:
        first_party = client.first_party if client else False
    return service.ClientSettings(
        first_party=first_party,
        access_token_ttl=pick("access_token_ttl"),
        id_token_ttl=pick("id_token_ttl"),
        refresh_token_ttl=pick("refresh_token_ttl"),
    )


def _print_client(client: Client) -> None:
    view = service.admin_view(client)
    click.echo(f"client_id: {client.client_id}")
    click.echo(f"name: {client.client_name}")
    click.echo(f"status: {'enabled' if client.active else 'disabled'}")
    click.echo(f"first_party: {'yes' if client.first_party else 'no'}")
    secret = "set (stored hashed)" if client.client_secret_hash else "none"
    click.echo(f"client_secret: {secret}")
    click.echo(f"source: {client.source}")
    if client.created_at:
        click.echo(f"created: {local_time_plain(client.created_at)}")
    for name in ("access_token_ttl", "id_token_ttl", "refresh_token_ttl"):
        value = getattr(client, name)
        click.echo(f"{name}: {value if value is not None else 'default'}")
    skip = {"client_id", "client_id_issued_at", "client_secret_expires_at", "client_name"}
    for key, value in (client.client_metadata or {}).items():
        if key in skip or key not in view:
            continue
        if isinstance(value, list):
            click.echo(f"{key}:" + ("" if value else " (none)"))
            for item in value:
                click.echo(f"  - {item}")
        elif isinstance(value, dict):
            click.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")
        else:
            click.echo(f"{key}: {value}")


def _emit_secret(client_id: str, secret: str | None, as_json: bool, extra: dict[str, Any]) -> None:
    if as_json:
        emit_json(
            {"client_id": client_id, **extra, **({"client_secret": secret} if secret else {})}
        )
        return
    for key, value in {"client_id": client_id, **extra}.items():
        click.echo(f"{key}: {value}")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo(SECRET_NOTICE, err=True)


def client_options(update: bool):  # noqa: ANN201  (a decorator factory)
    def decorate(func):
        options = [
            click.option("--name", help="client_name shown to users (Vietnamese first)."),
            click.option("--redirect-uri", multiple=True, help="Exact redirect URI (repeat)."),
            click.option(
                "--post-logout-redirect-uri", multiple=True, help="Allowed after sign-out."
            ),
            click.option(
                "--grant-type",
                multiple=True,
                help="authorization_code, refresh_token, client_credentials (repeat).",
            ),
            click.option("--response-type", multiple=True, help="Only 'code'."),
            click.option(
                "--auth-method",
                help="client_secret_basic (default), client_secret_post, private_key_jwt, none.",
            ),
            click.option("--scope", help="Space-separated scopes the client may request."),
            click.option("--application-type", help="web (default) or native."),
            click.option("--audience", multiple=True, help="Resource server it may target."),
            click.option(
                "--resource-server-audience",
                multiple=True,
                help="As a resource server: an `aud` whose access tokens it may introspect.",
            ),
            click.option("--contact", multiple=True),
            click.option("--acr", multiple=True, help="default_acr_values (repeat)."),
            click.option("--logo-uri"),
            click.option("--client-uri"),
            click.option("--backchannel-logout-uri"),
            click.option("--frontchannel-logout-uri"),
            click.option(
                "--first-party/--third-party",
                default=None,
                help="First-party clients skip the consent screen.",
            ),
            click.option(
                "--admin-automation/--no-admin-automation",
                default=None,
                help="Its client_credentials tokens act as a super-administrator in the "
                "admin API (with an admin:read or admin:write scope).",
            ),
            click.option("--access-token-ttl", type=click.IntRange(1), help="Seconds."),
            click.option("--id-token-ttl", type=click.IntRange(1), help="Seconds."),
            click.option("--refresh-token-ttl", type=click.IntRange(1), help="Seconds."),
            click.option("--metadata", help="More RFC 7591 metadata as JSON, or @FILE."),
            click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
        ]
        if update:
            options.append(
                click.option("--unset", multiple=True, help="Remove a metadata field (repeat).")
            )
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.group("clients")
def clients_group() -> None:
    """Relying parties: create, list, show, update, rotate-secret, disable, enable, apply."""


@clients_group.command("create")
@click.option("--client-id", help="Chosen client_id (default: random).")
@client_options(update=False)
@with_appcontext
def create_command(client_id: str | None, as_json: bool, **opts: Any) -> None:
    """Register a client; its secret is printed once."""
    metadata = _metadata_from_options(opts, update=False)
    try:
        with transaction():
            result = service.create_client(
                metadata,
                cli_policy(),
                actor=cli_actor(),
                client_id=client_id,
                settings=_settings(opts),
            )
    except IdpError as exc:
        raise _fail(exc) from exc
    client = result.client
    _emit_secret(
        client.client_id,
        result.client_secret,
        as_json,
        {
            "client_name": client.client_name,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
        },
    )


@clients_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def list_command(as_json: bool) -> None:
    """Every registered client."""
    clients = service.list_clients()
    if as_json:
        emit_json([service.admin_view(c) for c in clients])
        return
    if not clients:
        click.echo("no clients registered")
    for c in clients:
        state = "enabled " if c.active else "disabled"
        kind = "public" if c.is_public else c.token_endpoint_auth_method
        click.echo(f"{c.client_id:32} {state} {kind:20} {c.client_name}")


@clients_group.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def show_command(client_id: str, as_json: bool) -> None:
    """One client's registration (never its secret)."""
    try:
        client = service.get_client(client_id)
    except IdpError as exc:
        raise _fail(exc) from exc
    if as_json:
        emit_json(service.admin_view(client))
    else:
        _print_client(client)


@clients_group.command("update")
@click.argument("client_id")
@client_options(update=True)
@with_appcontext
def update_command(client_id: str, as_json: bool, **opts: Any) -> None:
    """Change a client: given list options replace the whole list."""
    changes = _metadata_from_options(opts, update=True)
    try:
        with transaction():
            client = service.get_client(client_id)
            result = service.update_client(
                client_id,
                changes,
                cli_policy(),
                actor=cli_actor(),
                settings=_settings(opts, client),
            )
    except IdpError as exc:
        raise _fail(exc) from exc
    if as_json:
        emit_json(
            {
                "client_id": client_id,
                "changed": result.changed,
                **({"client_secret": result.client_secret} if result.client_secret else {}),
            }
        )
        return
    click.echo(
        f"{client_id}: "
        + (", ".join(result.changed) + " updated" if result.changed else "unchanged")
    )
    if result.client_secret:
        click.echo(f"client_secret: {result.client_secret}")
        click.echo(SECRET_NOTICE, err=True)


@clients_group.command("rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def rotate_secret_command(client_id: str, as_json: bool) -> None:
    """Replace the client's secret; the old one stops working at once."""
    try:
        with transaction():
            secret = service.rotate_secret(client_id, actor=cli_actor())
    except IdpError as exc:
        raise _fail(exc) from exc
    _emit_secret(client_id, secret, as_json, {})


def _set_active(client_id: str, active: bool) -> None:
    try:
        with transaction():
            changed = service.set_active(client_id, active, actor=cli_actor())
    except IdpError as exc:
        raise _fail(exc) from exc
    word = "enabled" if active else "disabled"
    click.echo(f"{client_id}: {word}" if changed else f"{client_id}: already {word}")


@clients_group.command("disable")
@click.argument("client_id")
@with_appcontext
def disable_command(client_id: str) -> None:
    """Stop a client from signing anyone in or getting tokens."""
    _set_active(client_id, False)


@clients_group.command("enable")
@click.argument("client_id")
@with_appcontext
def enable_command(client_id: str) -> None:
    """Allow a disabled client again."""
    _set_active(client_id, True)


@clients_group.command("apply")
@click.argument("directory", type=click.Path(exists=True, file_okay=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def apply_command(directory: Path, dry_run: bool, as_json: bool) -> None:
    """Apply the client manifests (*.toml, *.json) in DIRECTORY; safe to run again."""
    report = apply_directory(directory, cli_policy(), actor=cli_actor(), dry_run=dry_run)
    if as_json:
        emit_json(report.as_dict())
    else:
        manifests.print_report(report)
    if report.errors:
        raise SystemExit(1)


@click.group("registration-token")
def registration_token_group() -> None:
    """Initial access tokens for dynamic client registration (RFC 7591)."""


@registration_token_group.command("create")
@click.option("--expires-in", default="1d", show_default=True, help="3600, 90m, 1h, 7d, 2w.")
@click.option(
    "--uses", default="1", show_default=True, help="Registrations allowed, or 'unlimited'."
)
@click.option("--note", default="", help="Who or what it is for.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def token_create_command(expires_in: str, uses: str, note: str, as_json: bool) -> None:
    """Print a new initial access token (shown once)."""
    try:
        seconds = initial_access.parse_duration(expires_in)
        count = None if uses.strip().lower() == "unlimited" else _positive_int(uses)
        with transaction():
            issued = initial_access.create_token(
                expires_in=seconds, uses=count, note=note, actor=cli_actor()
            )
    except IdpError as exc:
        raise _fail(exc) from exc
    row = issued.row
    if as_json:
        emit_json(
            {
                "id": row.id,
                "token": issued.token,
                "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                "uses_left": row.uses_left,
                "note": row.note,
            }
        )
        return
    click.echo(f"id: {row.id}")
    click.echo(f"token: {issued.token}")
    click.echo(f"expires: {local_time_plain(row.expires_at)}")
    click.echo(f"uses: {row.uses_left if row.uses_left is not None else 'unlimited'}")
    click.echo("Give it to the client's developer; it is shown only once.", err=True)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise initial_access.InvalidDuration(
            f"--uses must be a number or 'unlimited', got {text!r}"
        ) from None
    if value < 1:
        raise initial_access.InvalidDuration("--uses must be at least 1")
    return value


@registration_token_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def token_list_command(as_json: bool) -> None:
    """Every initial access token (never the token itself)."""
    rows = initial_access.list_tokens()
    if as_json:
        emit_json(
            [
                {
                    "id": r.id,
                    "state": initial_access.state(r),
                    "expires_at": r.expires_at.isoformat() if r.expires_at else None,
                    "uses_left": r.uses_left,
                    "created_by": r.created_by,
                    "note": r.note,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        click.echo("no registration tokens")
    for r in rows:
        uses = "unlimited" if r.uses_left is None else f"{r.uses_left} left"
        expires = local_time_plain(r.expires_at) if r.expires_at else "never"
        click.echo(f"{r.id:5} {initial_access.state(r):8} {uses:12} until {expires}  {r.note}")


@registration_token_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke_command(token_id: int) -> None:
    """Delete a token so it registers nothing more."""
    try:
        with transaction():
            initial_access.revoke_token(token_id, actor=cli_actor())
    except IdpError as exc:
        raise _fail(exc) from exc
    click.echo(f"registration token {token_id} revoked")


def apply_directory(
    path: Path,
    policy: MetadataPolicy,
    *,
    actor: str,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> manifests.Report:
    """Apply every manifest under `path`, each file in a transaction of its own: a file
    that fails changes nothing and the others still apply."""
    report = manifests.Report(dry_run)
    for result in manifests.apply_each(path, policy, actor=actor, dry_run=dry_run, environ=environ):
        if result.status == "error":
            rollback()
        else:
            commit()
        report.results.append(result)
    return report


def init_cli(app: Flask) -> None:
    """Add `idp clients` and `idp registration-token` (called from idp.clients.init_app)."""
    app.cli.add_command(clients_group)
    app.cli.add_command(registration_token_group)
