"""The console's applications: list, register, edit, rotate the secret, disable and enable.

For super-administrators only. Every registration and change goes through
idp.clients.service under the administrators' metadata policy (the CLI's: the rules of
dynamic registration, plus the administrator-only fields), so a form can store nothing
`idp clients create` would refuse. A new secret is shown once, on the answer to the POST
that made it (no-store, like every console page), and never again: only its hash is kept.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from idp.admin import activity, client_form
from idp.admin.console import bp, console_page, super_only
from idp.clients import service
from idp.clients.metadata import ACR_VALUES, InvalidClientMetadata, policy_from_config
from idp.clients.models import Client
from idp.errors import IdpError
from idp.extensions import commit, rollback

# Where the policy's field names are shown on the form (the response types follow the
# grant types, so their errors are shown there).
FIELD_ON_FORM = {"response_types": "grant_types", "metadata": "form"}
_WEB_URI = _l("Một địa chỉ https đầy đủ (http chỉ cho máy cục bộ khi phát triển).")
_REDIRECT = _l(
    "Mỗi dòng một địa chỉ đầy đủ: https (http chỉ cho máy cục bộ), không có phần #..., "
    "không dùng javascript: hay data:."
)
_TTL = _l("Một số nguyên giây, từ 1 đến 31622400 (366 ngày), hoặc để trống.")
# What each field needs, in the reader's language; the policy's exact reason follows.
FIELD_HINTS = {
    "client_id": _l("Từ 1 đến 128 ký tự A-Z a-z 0-9 . _ ~ -, chưa ứng dụng nào dùng."),
    "client_name": _l("Văn bản in được, tối đa 300 ký tự."),
    "redirect_uris": _REDIRECT,
    "post_logout_redirect_uris": _REDIRECT,
    "grant_types": _l(
        "Các kiểu cấp quyền phải đi cùng nhau: refresh_token cần authorization_code; "
        "ứng dụng không có khóa bí mật không dùng client_credentials."
    ),
    "scope": _l("Các phạm vi cách nhau bởi dấu cách; offline_access cần refresh_token."),
    "default_acr_values": _l("Chỉ các mức bảo đảm mà hệ thống biết."),
    "token_endpoint_auth_method": _l("private_key_jwt cần jwks_uri."),
    "frontchannel_logout_uri": _l(
        "Một địa chỉ https đầy đủ, cùng giao thức, máy và cổng với một địa chỉ chuyển hướng."
    ),
    "backchannel_logout_uri": _WEB_URI,
    "jwks_uri": _WEB_URI,
    "client_uri": _WEB_URI,
    "logo_uri": _WEB_URI,
    "policy_uri": _WEB_URI,
    "tos_uri": _WEB_URI,
    "initiate_login_uri": _WEB_URI,
    "access_token_ttl": _TTL,
    "id_token_ttl": _TTL,
    "refresh_token_ttl": _TTL,
    "first_party": _l("Ứng dụng tự đăng ký không thể là ứng dụng của tỉnh."),
    "admin_automation": _l(
        "Cần kiểu cấp quyền client_credentials và phạm vi admin:read hoặc admin:write."
    ),
}


def admin_policy():
    return policy_from_config(current_app.config, dynamic=False)


def actor() -> str:
    return g.admin_user.sub


def find_client_or_404(client_id: str) -> Client:
    try:
        return service.get_client(client_id)
    except service.ClientNotFound:
        abort(404)


def form_errors(exc: Exception) -> dict[str, str]:
    """The error of a refused form, keyed by the form field it is about."""
    if isinstance(exc, InvalidClientMetadata | client_form.FormInvalid):
        name = FIELD_ON_FORM.get(exc.field, exc.field)
        return {name: exc.reason}
    if isinstance(exc, service.ClientExists):
        return {"client_id": str(exc)}
    if isinstance(exc, service.ClientError) and "first-party" in str(exc):
        return {"first_party": str(exc)}
    return {"form": str(exc)}


def render_form(form: client_form.ClientForm, *, client: Client | None, errors: dict[str, str]):
    status = 400 if errors else 200
    return (
        render_template(
            "admin/clients/form.html",
            form=form,
            client=client,
            errors=errors,
            hints=FIELD_HINTS,
            grant_choices=client_form.GRANT_CHOICES,
            acr_choices=ACR_VALUES,
            auth_methods=client_form.AUTH_METHODS,
            application_types=client_form.CHOICE_FIELDS["application_type"],
        ),
        status,
    )


def secret_page(client: Client, secret: str | None, *, action: str):
    """The one page that shows a secret: the answer to the POST that made it."""
    return render_template("admin/clients/secret.html", client=client, secret=secret, action=action)


@bp.get("/clients")
@console_page
@super_only
def clients():
    rows = service.list_clients()
    return render_template(
        "admin/clients/list.html",
        clients=rows,
        last_sign_ins=activity.last_sign_ins(c.client_id for c in rows),
    )


@bp.route("/clients/new", methods=["GET", "POST"])
@console_page
@super_only
def clients_new():
    if request.method == "GET":
        blank = client_form.ClientForm(
            {"application_type": "web", "token_endpoint_auth_method": "client_secret_basic"}
        )
        return render_form(blank, client=None, errors={})
    form = client_form.form_from_request(request.form)
    try:
        metadata, settings = client_form.to_metadata(form)
        result = service.create_client(
            metadata,
            admin_policy(),
            actor=actor(),
            client_id=form.text("client_id").strip() or None,
            settings=settings,
            source="console",
        )
    except (IdpError, client_form.FormInvalid) as exc:
        rollback()
        return render_form(form, client=None, errors=form_errors(exc))
    commit()
    return secret_page(result.client, result.client_secret, action="created")


@bp.get("/clients/<client_id>")
@console_page
@super_only
def clients_show(client_id: str):
    client = find_client_or_404(client_id)
    return render_template(
        "admin/clients/show.html",
        client=client,
        view=service.admin_view(client),
        sign_ins=activity.recent_sign_ins(client.client_id),
        deliveries=activity.delivery_state(client.client_id),
    )


@bp.route("/clients/<client_id>/edit", methods=["GET", "POST"])
@console_page
@super_only
def clients_edit(client_id: str):
    client = find_client_or_404(client_id)
    if request.method == "GET":
        return render_form(client_form.form_from_client(client), client=client, errors={})
    form = client_form.form_from_request(request.form)
    try:
        changes, settings = client_form.to_changes(form)
        result = service.update_client(
            client_id, changes, admin_policy(), actor=actor(), settings=settings
        )
    except (IdpError, client_form.FormInvalid) as exc:
        rollback()
        return render_form(form, client=find_client_or_404(client_id), errors=form_errors(exc))
    commit()
    if result.client_secret:
        # A move to client_secret_basic/post: the new secret, once.
        return secret_page(result.client, result.client_secret, action="created")
    return redirect(url_for("admin.clients_show", client_id=client_id, saved="1"))


def confirm_page(client: Client, what: str, **context: Any):
    return render_template("admin/clients/confirm.html", client=client, what=what, **context)


@bp.route("/clients/<client_id>/rotate-secret", methods=["GET", "POST"])
@console_page
@super_only
def clients_rotate(client_id: str):
    client = find_client_or_404(client_id)
    if request.method == "GET":
        return confirm_page(client, "rotate")
    try:
        secret = service.rotate_secret(client_id, actor=actor())
    except IdpError as exc:
        rollback()
        return confirm_page(client, "rotate", error=str(exc)), 400
    commit()
    return secret_page(client, secret, action="rotated")


@bp.route("/clients/<client_id>/disable", methods=["GET", "POST"])
@console_page
@super_only
def clients_disable(client_id: str):
    return _set_active(client_id, False)


@bp.route("/clients/<client_id>/enable", methods=["GET", "POST"])
@console_page
@super_only
def clients_enable(client_id: str):
    return _set_active(client_id, True)


def _set_active(client_id: str, active: bool):
    client = find_client_or_404(client_id)
    what = "enable" if active else "disable"
    if request.method == "GET":
        return confirm_page(client, what)
    service.set_active(client_id, active, actor=actor())
    commit()
    return redirect(url_for("admin.clients_show", client_id=client_id))
