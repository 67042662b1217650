"""Signing keys in the console: the key ring (next, current, retired) and rotation.

The same operation as `idp keys rotate` (idp.keys.ring.rotate): the next key, published
since at least KEY_PUBLISH_SECONDS, becomes current; the current one is retired and stays
in the JWKS until every token it signed has expired; a fresh next key is published.
Forcing skips the publication wait, for a compromised key.
"""

from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, url_for

from idp import audit
from idp.admin.console import bp, console_page, super_only
from idp.extensions import commit, rollback
from idp.keys.ring import KeyRingError, ensure_keys, list_keys, rotate


def _algorithms() -> list[str]:
    return list(current_app.config["KEY_ALGORITHMS"])


@bp.get("/keys")
@console_page
@super_only
def keys():
    if ensure_keys():
        commit()
    return render_template("admin/keys.html", keys=list_keys(), algorithms=_algorithms())


@bp.route("/keys/rotate", methods=["GET", "POST"])
@console_page
@super_only
def keys_rotate():
    alg = request.values.get("alg", "")
    force = request.values.get("force") == "1"
    if alg not in _algorithms():
        return redirect(url_for("admin.keys"))
    if request.method == "GET":
        return render_template("admin/keys_rotate.html", alg=alg, force=force)
    try:
        result = rotate(alg, force=force)
    except KeyRingError as exc:
        rollback()
        return render_template("admin/keys_rotate.html", alg=alg, force=force, error=str(exc)), 409
    audit.record(
        "keys.rotate",
        actor=g.admin_user.sub,
        subject=result.current,
        detail={"alg": alg, "retired": result.retired, "next": result.next, "forced": force},
        **audit.request_origin(),
    )
    commit()
    return redirect(url_for("admin.keys", rotated=alg))
