"""`idp upstreams list` and `idp upstreams test NAME` (docs/upstreams.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from joserfc.jwk import import_key

from idp.commands import CliError, emit_json
from idp.extensions import commit
from idp.sessions.worker import add_periodic
from idp.upstreams import client, configured
from idp.upstreams.client import Limits, UpstreamError
from idp.upstreams.config import Upstream
from idp.upstreams.store import remove_expired_pending_links

# How often `idp worker` removes expired pending links.
PENDING_CLEANUP_SECONDS = 300


@click.group("upstreams")
def upstreams_group() -> None:
    """Upstream OpenID Connect providers people may sign in with."""


def summary(upstream: Upstream) -> dict:
    """What the settings say, without secrets."""
    return {
        "name": upstream.name,
        "display_name": upstream.display_name,
        "issuer": upstream.issuer,
        "discovery": upstream.discovery_document_url if upstream.discovery else None,
        "endpoints": dict(upstream.endpoints),
        "client_id": upstream.client_id,
        "client_auth_method": upstream.client_auth_method,
        "scopes": list(upstream.scopes),
        "acr_values": list(upstream.acr_values),
        "forward_acr_values": upstream.forward_acr_values,
        "link_claim": upstream.link_claim,
        "link_hashed": upstream.link_hashed,
        "levels": dict(upstream.levels),
        "default_level": upstream.default_level or None,
        "claims": {k: ".".join(r.path) for k, r in upstream.claims.items()},
        "trust_verified_email": upstream.trust_verified_email,
        "create_accounts": upstream.create_accounts,
        "allow_private_addresses": upstream.allow_private_addresses,
    }


@upstreams_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def list_command(as_json: bool) -> None:
    """The upstreams of the settings."""
    upstreams = configured(current_app)
    if as_json:
        emit_json([summary(u) for u in upstreams.values()])
        return
    if not upstreams:
        click.echo("no upstream providers configured (docs/upstreams.md)")
        return
    for upstream in upstreams.values():
        how = "discovery" if upstream.discovery else "endpoints given"
        click.echo(
            f"{upstream.name:<16}{upstream.issuer}  ({how}, {upstream.client_auth_method}, "
            f"link by {upstream.link_claim}{' hashed' if upstream.link_hashed else ''})  "
            f"{upstream.display_name}"
        )


@dataclass
class Report:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _check_metadata(upstream: Upstream, limits: Limits, report: Report) -> client.Metadata | None:
    try:
        meta = client.discover(upstream, limits)
    except UpstreamError as exc:
        report.problems.append(f"discovery: {exc.code}: {exc.detail}")
        return None
    if upstream.discovery:
        report.ok.append(f"discovery document read, issuer {upstream.issuer}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        if meta.endpoint(key):
            report.ok.append(f"{key}: {meta.endpoint(key)}")
    if not meta.endpoint("userinfo_endpoint"):
        report.notes.append("no userinfo_endpoint: every claim must come in the ID token")
    if not meta.endpoint("end_session_endpoint") and not upstream.logout_url:
        report.notes.append("no end_session_endpoint nor logout_url: no sign-out upstream")
    return meta


def _check_keys(upstream: Upstream, limits: Limits, meta: client.Metadata, report: Report) -> None:
    if not meta.endpoint("jwks_uri"):
        report.notes.append("no jwks_uri: ID tokens are checked with our client secret (HS256)")
        return
    try:
        keys = client.fetch_jwks(upstream, limits, meta.endpoint("jwks_uri"))
    except UpstreamError as exc:
        report.problems.append(f"jwks_uri: {exc.code}: {exc.detail}")
        return
    report.ok.append(f"JWKS read: {len(keys.keys)} key(s)")


def _check_reachable(upstream: Upstream, limits: Limits, meta: client.Metadata, report: Report):
    """The authorization and token endpoints answer at all (any status but a redirect)."""
    for key in ("authorization_endpoint", "token_endpoint"):
        try:
            status, _headers, _body = client.call(upstream, limits, meta.endpoint(key))
        except UpstreamError as exc:
            report.problems.append(f"{key}: {exc.code}: {exc.detail}")
            continue
        report.ok.append(f"{key} answers (HTTP {status})")


def _check_client(upstream: Upstream, report: Report) -> None:
    if upstream.client_auth_method == "private_key_jwt":
        key_type = "EC" if upstream.private_key_alg.startswith("ES") else "RSA"
        key = import_key(upstream.private_key_pem, key_type)
        public = key.as_dict(private=False)
        if upstream.private_key_kid:
            public["kid"] = upstream.private_key_kid
        report.notes.append(f"our public key to register at the upstream: {public}")
    if not upstream.levels and not upstream.default_level:
        report.problems.append("no levels and no default_level: every sign-in would be refused")


def check(upstream: Upstream, limits: Limits) -> Report:
    report = Report()
    client.forget_cached(upstream.name)
    _check_client(upstream, report)
    meta = _check_metadata(upstream, limits, report)
    if meta is not None:
        _check_keys(upstream, limits, meta, report)
        _check_reachable(upstream, limits, meta, report)
    return report


@upstreams_group.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def test_command(name: str, as_json: bool) -> None:
    """Check one upstream: its settings, its discovery document and JWKS, and that its
    endpoints answer, each within UPSTREAM_HTTP_SECONDS. Exit status 1 on any problem."""
    upstream = configured(current_app).get(name)
    if upstream is None:
        known = ", ".join(configured(current_app)) or "none"
        raise CliError(f"no upstream named {name!r} (configured: {known})")
    report = check(upstream, Limits.of(current_app.config))
    if as_json:
        emit_json({"name": name, **report.__dict__})
    else:
        for line in report.ok:
            click.echo(f"ok       {line}")
        for line in report.notes:
            click.echo(f"note     {line}")
        for line in report.problems:
            click.echo(f"PROBLEM  {line}")
    if report.problems:
        raise SystemExit(1)


def remove_expired_pending() -> int:
    """Expired pending links, removed (the job of `idp worker`, and `idp upstreams
    cleanup`): the table holds no more than the last UPSTREAM_LINK_SECONDS of sign-ins."""
    removed = remove_expired_pending_links()
    commit()
    return removed


@upstreams_group.command("cleanup")
@with_appcontext
def cleanup_command() -> None:
    """Remove expired pending links (`idp worker` does it every 5 minutes)."""
    click.echo(f"pending links{remove_expired_pending():>8} removed")


def init_app(app: Flask) -> None:
    app.cli.add_command(upstreams_group)
    add_periodic(
        app,
        "remove expired upstream pending links",
        PENDING_CLEANUP_SECONDS,
        remove_expired_pending,
    )
