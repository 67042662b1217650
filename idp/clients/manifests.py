"""`idp clients apply DIR`: declarative client manifests, applied idempotently.

A manifest is one TOML (or JSON) file per relying party: `client_id`, the RFC 7591 metadata
under its own names, and our settings (`first_party`, `active`, `*_token_ttl`). The secret
never appears in a manifest: `client_secret_env` names an environment variable holding it;
without one a secret is generated at creation and printed once. String values may use
`${NAME}` or `${NAME:-default}` to take deployment-specific URLs from the environment.

Each file is applied on its own: a malformed one is reported and the others still apply.
Applying the same directory twice reports every client unchanged.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from idp.clients import service, store
from idp.clients.metadata import InvalidClientMetadata, MetadataPolicy
from idp.clients.models import Client
from idp.errors import IdpError

SUFFIXES = (".toml", ".json")
# Picked up only to say clearly that they are not read (no YAML parser in the dependencies).
YAML_SUFFIXES = (".yaml", ".yml")
MAX_MANIFEST_BYTES = 256 * 1024
SETTINGS_KEYS = ("first_party", "access_token_ttl", "id_token_ttl", "refresh_token_ttl")
CONTROL_KEYS = ("client_id", "client_secret_env", "active", *SETTINGS_KEYS)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ManifestError(IdpError):
    pass


@dataclass
class FileResult:
    path: str
    status: str  # created | updated | unchanged | error
    client_id: str | None = None
    changed: list[str] = field(default_factory=list)
    message: str = ""
    # Set only when a secret was generated for a new client: printed once, never stored.
    client_secret: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.client_id:
            data["client_id"] = self.client_id
        if self.changed:
            data["changed"] = self.changed
        if self.message:
            data["message"] = self.message
        if self.client_secret:
            data["client_secret"] = self.client_secret
        return data


@dataclass
class Report:
    dry_run: bool
    results: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def errors(self) -> int:
        return self.count("error")

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "files": [r.as_dict() for r in self.results],
            "summary": {s: self.count(s) for s in ("created", "updated", "unchanged", "error")},
        }


# Files that sit beside manifests but are not manifests: the sample relying parties in
# clients/ are Node.js projects with their own JSON files.
NOT_MANIFESTS = {"package.json", "package-lock.json", "tsconfig.json", "jsconfig.json"}
SKIPPED_DIRS = {"node_modules"}


def manifest_files(path: Path) -> list[Path]:
    """The manifests under `path` (a file or a directory, searched recursively), sorted.

    Hidden folders, node_modules and the JSON files of Node.js projects are passed over.
    """
    if path.is_file():
        return [path]
    wanted = SUFFIXES + YAML_SUFFIXES
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in wanted
        and p.name not in NOT_MANIFESTS
        and not any(
            part in SKIPPED_DIRS or part.startswith(".") for part in p.relative_to(path).parts[:-1]
        )
    )


def apply_each(
    path: Path,
    policy: MetadataPolicy,
    *,
    actor: str,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Iterator[FileResult]:
    """Apply the manifests under `path` one by one, yielding each file's result. The caller
    commits after a good file and rolls back after one whose status is "error" before asking
    for the next (idp.clients.cli.apply_directory): each file succeeds or fails on its own."""
    environ = os.environ if environ is None else environ
    seen: dict[str, str] = {}
    base = path if path.is_dir() else path.parent
    for file in manifest_files(path):
        name = str(file.relative_to(base))
        try:
            manifest = load_manifest(file, environ)
            client_id = manifest["client_id"]
            if client_id in seen:
                raise ManifestError(f"client_id {client_id!r} is also in {seen[client_id]}")
            seen[client_id] = name
            result = apply_manifest(manifest, policy, actor=actor, dry_run=dry_run, environ=environ)
        except (IdpError, ValueError, OSError) as exc:
            yield FileResult(name, "error", message=_message(exc))
            continue
        result.path = name
        yield result


def load_manifest(file: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """The manifest as a dict with ${...} references resolved, or ManifestError."""
    if file.suffix.lower() in YAML_SUFFIXES:
        raise ManifestError("YAML manifests are not read; write the manifest in TOML")
    raw = file.read_bytes()
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"larger than {MAX_MANIFEST_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError("not UTF-8 text") from exc
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise ManifestError(f"cannot parse: {exc}") from exc
    if not isinstance(data, dict):
        raise ManifestError("a manifest must be a table of settings")
    if "client_secret" in data:
        raise ManifestError(
            "client_secret does not belong in a manifest: name an environment variable "
            "with client_secret_env"
        )
    data = _resolve(data, environ)
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ManifestError("client_id is required")
    service.check_client_id(client_id)
    env_name = data.get("client_secret_env")
    if env_name is not None and (not isinstance(env_name, str) or not ENV_NAME.match(env_name)):
        raise ManifestError("client_secret_env must be the name of an environment variable")
    if "active" in data and not isinstance(data["active"], bool):
        raise ManifestError("active must be true or false")
    return data


@dataclass
class Desired:
    """What a manifest asks for, read once: metadata, settings, secret and active flag."""

    client_id: str
    metadata: dict[str, Any]
    settings: service.ClientSettings
    env_name: str | None
    # The secret from client_secret_env; None when unset or empty.
    supplied: str | None
    active: bool | None

    @classmethod
    def read(cls, manifest: Mapping[str, Any], environ: Mapping[str, str]) -> Desired:
        env_name = manifest.get("client_secret_env")
        supplied = environ.get(env_name) if env_name else None
        return cls(
            client_id=manifest["client_id"],
            metadata={k: v for k, v in manifest.items() if k not in CONTROL_KEYS},
            settings=service.ClientSettings(
                **{k: manifest[k] for k in SETTINGS_KEYS if k in manifest}
            ),
            env_name=env_name,
            supplied=supplied or None,  # an empty variable counts as unset
            active=manifest.get("active"),
        )

    @property
    def secret(self) -> str | None:
        """The supplied secret, if the client's authentication method uses one."""
        return self.supplied if _needs_secret(self.metadata) else None


def apply_manifest(
    manifest: Mapping[str, Any],
    policy: MetadataPolicy,
    *,
    actor: str,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> FileResult:
    """Create or update the client the manifest describes; report what changed."""
    desired = Desired.read(manifest, os.environ if environ is None else environ)
    client = store.find_client(desired.client_id)
    if client is None:
        if dry_run:
            return _check_creation(desired, policy)
        return _create(desired, policy, actor=actor)
    return _update(client, desired, policy, actor=actor, dry_run=dry_run)


def _check_creation(desired: Desired, policy: MetadataPolicy) -> FileResult:
    """Dry run of a creation: the checks create_client would make, nothing stored."""
    service.validate_metadata(desired.metadata, policy)
    desired.settings.check()
    if desired.supplied is not None:
        service.check_supplied_secret(desired.supplied)
    return FileResult("", "created", desired.client_id, message="would be created")


def _create(desired: Desired, policy: MetadataPolicy, *, actor: str) -> FileResult:
    result = service.create_client(
        desired.metadata,
        policy,
        actor=actor,
        client_id=desired.client_id,
        client_secret=desired.secret,
        settings=desired.settings,
        source="manifest",
    )
    if desired.active is False:
        service.set_active(desired.client_id, False, actor=actor)
    message = ""
    if result.client_secret and desired.env_name:
        message = f"{desired.env_name} is not set: a secret was generated"
    return FileResult(
        "", "created", desired.client_id, message=message, client_secret=result.client_secret
    )


def _update(
    client: Client, desired: Desired, policy: MetadataPolicy, *, actor: str, dry_run: bool
) -> FileResult:
    secret = desired.secret
    _, changed = service.plan_update(
        client,
        desired.metadata,
        policy,
        replace=True,
        settings=desired.settings,
        client_secret=secret,
    )
    if desired.active is not None and desired.active != client.active:
        changed.append("active")
    if client.source != "manifest":
        changed.append("source")  # the manifest takes the client over
    if not changed:
        return FileResult("", "unchanged", desired.client_id)
    if dry_run:
        return FileResult("", "updated", desired.client_id, changed, message="would be updated")
    result = service.update_client(
        desired.client_id,
        desired.metadata,
        policy,
        actor=actor,
        replace=True,
        settings=desired.settings,
        client_secret=secret,
        source="manifest",
    )
    if desired.active is not None:
        service.set_active(desired.client_id, desired.active, actor=actor)
    return FileResult("", "updated", desired.client_id, changed, client_secret=result.client_secret)


def secret_env_name(client_id: str) -> str:
    """The environment variable an exported manifest names for the client's secret."""
    return "RP_" + re.sub(r"[^A-Za-z0-9]", "_", client_id).upper() + "_CLIENT_SECRET"


def export_manifest(client: Client) -> dict[str, Any]:
    """The manifest that `apply_manifest` reads back into this very registration.

    Never the secret (only its hash is stored, and a manifest refuses one anyway): a client
    with a secret names an environment variable instead, which `idp clients apply` reads
    when it is set and otherwise leaves the stored secret as it is.
    """
    data: dict[str, Any] = {"client_id": client.client_id}
    data.update(client.client_metadata or {})
    if client.client_secret_hash is not None:
        data["client_secret_env"] = secret_env_name(client.client_id)
    data["first_party"] = client.first_party
    for name in SETTINGS_KEYS[1:]:
        if getattr(client, name) is not None:
            data[name] = getattr(client, name)
    data["active"] = client.active
    return data


def export_json(client: Client) -> str:
    """export_manifest as the JSON file `idp clients apply` reads."""
    return json.dumps(export_manifest(client), ensure_ascii=False, indent=2) + "\n"


def print_report(report: Report) -> None:
    """One line per file, secrets generated now, and a summary."""
    verbs = {"created": "created", "updated": "updated", "unchanged": "unchanged"}
    if report.dry_run:
        verbs = {"created": "would create", "updated": "would update", "unchanged": "unchanged"}
    secrets_shown = False
    for r in report.results:
        if r.status == "error":
            click.echo(f"{r.path}: error: {r.message}", err=True)
            continue
        line = f"{r.path}: {verbs[r.status]} {r.client_id}"
        if r.changed and r.status == "updated":
            line += f" ({', '.join(r.changed)})"
        click.echo(line)
        if r.message and not report.dry_run:
            click.echo(f"  {r.message}")
        if r.client_secret:
            click.echo(f"  client_secret: {r.client_secret}")
            secrets_shown = True
    if secrets_shown:
        click.echo("Store the secrets now: they are shown only once.", err=True)
    names = {"created": "to create", "updated": "to update"} if report.dry_run else {}
    parts = [
        f"{report.count(s)} {names.get(s, s)}"
        for s in ("created", "updated", "unchanged")
        if report.count(s)
    ]
    if report.errors:
        parts.append(f"{report.errors} with errors")
    prefix = "dry run, nothing changed: " if report.dry_run else ""
    click.echo(f"{prefix}{len(report.results)} manifests: {', '.join(parts) or 'none found'}")


def _needs_secret(metadata: Mapping[str, Any]) -> bool:
    method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
    return service.needs_secret({"token_endpoint_auth_method": method})


def _resolve(value: Any, environ: Mapping[str, str]) -> Any:
    """Replace ${NAME} and ${NAME:-default} in every string of the manifest."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = environ.get(name)
            if found:
                return found
            if default is None:
                raise ManifestError(f"environment variable {name} is not set (used in ${{{name}}})")
            return default

        return REFERENCE.sub(substitute, value)
    if isinstance(value, list):
        return [_resolve(v, environ) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, environ) for k, v in value.items()}
    return value


def _message(exc: Exception) -> str:
    if isinstance(exc, InvalidClientMetadata):
        return exc.description
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    return str(exc)
