"""The console's door to the clients/ manifests: export and import.

`idp clients apply` is the other door, and both are one source of truth: the export is the
JSON manifest that command reads (idp.clients.manifests.export_manifest), and an import runs
the very same plan and apply (idp.clients.cli.apply_directory over the uploaded files), first
as a dry run shown for confirmation, then for real, each file on its own.

Unlike the command, an import does not read the server's environment: `${NAME}` references
take their `:-default` (or fail), and `client_secret_env` is never found, so a manifest
cannot copy a setting of the server (its secret key, say) into a client's metadata for the
console to show. A new client with a secret gets a generated one, shown once.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import tempfile
import zipfile
from pathlib import Path

from flask import Response, g, render_template, request

from idp.admin.clients_pages import admin_policy, find_client_or_404
from idp.admin.console import bp, console_page, super_only
from idp.clients import manifests, service
from idp.clients.cli import apply_directory
from idp.extensions import utcnow

MAX_FILES = 50
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
# The server's environment is not the uploader's: see the module's docstring.
NO_ENVIRONMENT: dict[str, str] = {}


def _download(body: bytes, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/clients/<client_id>/manifest.json")
@console_page
@super_only
def clients_export_one(client_id: str):
    client = find_client_or_404(client_id)
    return _download(
        manifests.export_json(client).encode(), f"{client.client_id}.json", "application/json"
    )


@bp.get("/clients/export.zip")
@console_page
@super_only
def clients_export():
    """Every client's manifest in one archive: unpacked, a folder for `idp clients apply`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for client in service.list_clients():
            archive.writestr(f"clients/{client.client_id}.json", manifests.export_json(client))
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return _download(buffer.getvalue(), f"clients-{stamp}.zip", "application/zip")


class UploadRefused(ValueError):
    pass


def _safe_name(name: str, taken: set[str]) -> str:
    base = SAFE_NAME.sub("_", Path(name or "manifest").name) or "manifest"
    if not base.lower().endswith(manifests.SUFFIXES + manifests.YAML_SUFFIXES):
        base += ".toml"
    candidate, n = base, 1
    while candidate in taken or candidate.startswith("."):
        n += 1
        candidate = f"{n}-{base}"
    taken.add(candidate)
    return candidate


def _uploaded() -> list[tuple[str, bytes]]:
    """The manifests of the upload form, or (after the preview) of its hidden fields."""
    files: list[tuple[str, bytes]] = []
    taken: set[str] = set()
    names = request.form.getlist("manifest_name")
    if names:
        for name, encoded in zip(names, request.form.getlist("manifest_body"), strict=False):
            try:
                body = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise UploadRefused("bad form") from None
            files.append((_safe_name(name, taken), body))
    else:
        for upload in request.files.getlist("manifests"):
            if upload.filename:
                body = upload.read(manifests.MAX_MANIFEST_BYTES + 1)
                files.append((_safe_name(upload.filename, taken), body))
    if not files:
        raise UploadRefused("none")
    if len(files) > MAX_FILES:
        raise UploadRefused("too many")
    return files


def _apply(files: list[tuple[str, bytes]], *, dry_run: bool) -> manifests.Report:
    with tempfile.TemporaryDirectory(prefix="idp-manifests-") as folder:
        for name, body in files:
            (Path(folder) / name).write_bytes(body)
        return apply_directory(
            Path(folder),
            admin_policy(),
            actor=g.admin_user.sub,
            dry_run=dry_run,
            environ=NO_ENVIRONMENT,
        )


@bp.route("/clients/import", methods=["GET", "POST"])
@console_page
@super_only
def clients_import():
    if request.method == "GET":
        return render_template("admin/clients/import.html")
    try:
        files = _uploaded()
    except UploadRefused as exc:
        return render_template("admin/clients/import.html", refused=str(exc)), 400
    confirmed = request.form.get("confirm") == "1"
    report = _apply(files, dry_run=not confirmed)
    return render_template(
        "admin/clients/import.html",
        report=report,
        files=[(name, base64.b64encode(body).decode()) for name, body in files],
        applied=confirmed,
    )
