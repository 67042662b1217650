"""Access tokens for the admin API tests, from the real token endpoint: a person's (the code
flow, signed in with a second factor) and an automation client's (client_credentials)."""

from __future__ import annotations

from typing import Any

from helpers.admin import console_sign_in
from helpers.clients import make_client, make_machine_client
from helpers.oidc_flow import RelyingParty, basic

API = "/admin/api/v1"
TOOL_CLIENT = "admin-tool"
AUTOMATION_CLIENT = "automation"
ADMIN_SCOPES = "admin:read admin:write"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_tool_client(app, client_id: str = TOOL_CLIENT, **metadata: Any) -> str:
    """A first-party application administrators use on their own behalf (code flow)."""
    return make_client(
        app, client_id, scope=metadata.pop("scope", f"openid {ADMIN_SCOPES}"), **metadata
    )


def person_token(
    app,
    http,
    email: str,
    *,
    scope: str = f"openid {ADMIN_SCOPES}",
    client_id: str = TOOL_CLIENT,
    signed_in: bool = False,
    **params: Any,
) -> str:
    """An access token issued to `email` (signed in on `http` with a second factor, unless
    `signed_in`) for `client_id` (made by make_tool_client)."""
    if not signed_in:
        console_sign_in(app, http, email)
    relying_party = RelyingParty(http, client_id)
    return relying_party.tokens(login=False, scope=scope, **params)["access_token"]


def client_token(http, client_id: str, scope: str | None = None, **extra: str):
    """The token endpoint's answer to a client_credentials request."""
    data = {"grant_type": "client_credentials", **extra}
    if scope is not None:
        data["scope"] = scope
    return http.post("/oauth2/token", data=data, headers=basic(client_id))


def automation_token(
    app,
    http,
    client_id: str = AUTOMATION_CLIENT,
    *,
    scope: str = ADMIN_SCOPES,
    automation: bool = True,
    **metadata: Any,
) -> str:
    """A client_credentials token of a machine client registered for the admin scopes, and
    marked for admin automation unless told otherwise."""
    if automation:
        metadata["admin_automation"] = True
    make_machine_client(app, client_id, scope, **metadata)
    answer = client_token(http, client_id)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["access_token"]


def problem(answer, status: int) -> dict[str, Any]:
    """The RFC 9457 body of a failed answer, checked for its form."""
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True))
    assert answer.mimetype == "application/problem+json", answer.mimetype
    body = answer.get_json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body), body
    assert body["status"] == status
    return body
