"""Client registrations for the tests: rows stored straight in the database (the registry's
own tests cover the CLI, manifests and registration), initial access tokens, and dynamic
registration over HTTP."""

from __future__ import annotations

from typing import Any

from helpers.db import count_rows

REDIRECT_URI = "https://rp.example/callback"
SECRET = "s3cret-" + "x" * 40


def insert_client(
    app,
    client_id: str,
    metadata: dict[str, Any],
    *,
    secret: str | None = None,
    first_party: bool = True,
    active: bool = True,
) -> str:
    """Store one client row with exactly `metadata` (and `secret`'s hash when given)."""
    from idp.clients.models import Client
    from idp.extensions import db
    from idp.security import hash_secret

    with app.app_context():
        db.session.add(
            Client(
                client_id=client_id,
                client_secret_hash=hash_secret(secret) if secret else None,
                client_metadata=metadata,
                first_party=first_party,
                active=active,
            )
        )
        db.session.commit()
    return client_id


def make_client(
    app,
    client_id: str = "webmail",
    *,
    secret: str | None = SECRET,
    auth_method: str = "client_secret_basic",
    redirect_uris: list[str] | None = None,
    scope: str = "openid profile email phone org offline_access",
    grant_types: list[str] | None = None,
    first_party: bool = True,
    active: bool = True,
    **metadata: Any,
) -> str:
    """A web application signing people in with the code flow, unless told otherwise."""
    return insert_client(
        app,
        client_id,
        {
            "client_name": metadata.pop("client_name", f"Ứng dụng {client_id}"),
            "redirect_uris": redirect_uris if redirect_uris is not None else [REDIRECT_URI],
            "grant_types": grant_types or ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": auth_method,
            "scope": scope,
            **metadata,
        },
        secret=secret if auth_method != "none" else None,
        first_party=first_party,
        active=active,
    )


def make_machine_client(app, client_id: str, scope: str, **metadata: Any) -> str:
    """A client of the client_credentials grant only (a resource server, LGSP)."""
    return make_client(
        app,
        client_id,
        grant_types=["client_credentials"],
        scope=scope,
        redirect_uris=[],
        **metadata,
    )


def client_row(app, client_id: str):
    """The stored Client (detached from the session), or None."""
    import sqlalchemy as sa

    from idp.clients.models import Client
    from idp.extensions import db

    with app.app_context():
        row = db.session.execute(
            sa.select(Client).where(Client.client_id == client_id)
        ).scalar_one_or_none()
        if row is not None:
            db.session.expunge(row)
        return row


def count_clients(app) -> int:
    from idp.clients.models import Client

    return count_rows(app, Client)


def initial_access_token(app, *, uses: int | None = 1, actor: str = "test", **options: Any) -> str:
    """A new initial access token for dynamic registration, in plain text."""
    from idp.clients import initial_access
    from idp.extensions import db

    with app.app_context():
        token = initial_access.create_token(uses=uses, actor=actor, **options).token
        db.session.commit()
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_client(http, token: str, **metadata: Any) -> dict[str, Any]:
    """Register a client at /oauth2/register (RFC 7591); the registration response."""
    response = http.post(
        "/oauth2/register",
        json={"redirect_uris": [REDIRECT_URI], **metadata},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assert_error(response, status: int, error: str) -> dict[str, Any]:
    """A JSON error answer (RFC 6749 5.2, RFC 7591 3.2.2, RFC 7592); its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == error, body
    description = body.get("error_description", "")
    # RFC 6749 5.2: error_description is printable ASCII without '"' and '\\'.
    assert all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in description), description
    return body
