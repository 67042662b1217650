"""The per-application authorization server: Authlib's, wired to our grants and stores.

`create_server(app)` builds one for each Flask app (no module-global server) and keeps it
in `app.extensions["idp.oauth2"]`; `get_server()` returns the current app's. Other parts
of idp.oidc (registration, logout) register their endpoints on it.
"""

from __future__ import annotations

import json
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, current_app, g
from flask import request as flask_request

from idp.clients import Client
from idp.clients import store as clients_store
from idp.oidc import grants, request_checks, tokens
from idp.oidc.client_auth import PrivateKeyJWT
from idp.oidc.endpoints import (
    BearerTokenValidator,
    IntrospectionEndpoint,
    ResourceProtector,
    RevocationEndpoint,
    UserInfoEndpoint,
)

EXTENSION_KEY = "idp.oauth2"
# Token endpoint parameters that may repeat (RFC 8707 2.1); any other must appear once.
REPEATABLE_TOKEN_PARAMETERS = {"resource"}


class ProviderRequest(FlaskOAuth2Request):
    """Authlib's Flask request, with room for what our grants learn on the way.

    Authlib refuses a request whose URL is not https (loopback http aside). Behind the
    TLS-terminating reverse proxy, `TRUSTED_PROXIES` makes the proxy's X-Forwarded-Proto the
    request's scheme (idp.security.trust_proxies), so the check sees the URL the client used.
    """

    def __init__(self, request) -> None:
        super().__init__(request)
        # The `claims` request parameter, parsed (idp.oidc.claims).
        self.claims_request: dict[str, Any] | None = None
        # The successor presented in a refresh token's grace period (grants.RefreshTokenGrant).
        self.superseded = None


class ProviderIssuerParameter(IssuerParameter):
    """RFC 9207: `iss` in every authorization response, errors included."""

    def get_issuer(self) -> str:
        return current_app.config["ISSUER"]


class ProviderServer(AuthorizationServer):
    def load_config(self, config) -> None:
        self.register_token_generator("default", tokens.generate_token)
        # Unknown scopes are ignored rather than refused (OIDC Core 3.1.2.1); each client
        # is limited to its registered scopes.
        self.scopes_supported = None

    def query_client(self, client_id: str) -> Client | None:
        return clients_store.find_active_client_cached(client_id)

    def authenticate_client(self, request, methods, endpoint="token"):
        try:
            return super().authenticate_client(request, methods, endpoint)
        except (UnicodeDecodeError, ValueError) as exc:
            # Authlib decodes Basic credentials as UTF-8 and does not expect anything else.
            raise InvalidClientError(
                status_code=401, description="Malformed client credentials."
            ) from exc

    def get_authorization_grant(self, request):
        """Authlib's, but an unsupported response_type is refused without quoting it.

        Authlib puts the presented value in the error description, and OAuth2Error raises
        ValueError for a description with characters RFC 6749 4.1.2.1 does not allow (a 500
        for `response_type=%C3%A9`). The redirect URI is checked like any other
        (Client.redirect_uri_for): the error goes back to the client only if it is one of
        its own.
        """
        if any(cls.check_authorization_endpoint(request) for cls, _ in self._authorization_grants):
            return super().get_authorization_grant(request)
        redirect_uri = None
        client = self.query_client(request.payload.client_id)
        if client is not None:
            presented = request.payload.redirect_uri
            redirect_uri = (
                client.redirect_uri_for(presented)
                if presented
                else client.get_default_redirect_uri()
            )
        raise UnsupportedResponseTypeError(
            request.payload.response_type,
            "The 'response_type' is not supported.",
            redirect_uri=redirect_uri,
        )

    def save_token(self, token, request) -> None:
        """Each grant stores what it issues (see idp.oidc.grants)."""

    def create_oauth2_request(self, request) -> ProviderRequest:
        # Authlib asks several times per HTTP request; build it once.
        if "oauth2_request" not in g:
            # The request itself, not Flask's proxy: Authlib reads it dozens of times.
            g.oauth2_request = ProviderRequest(flask_request._get_current_object())
        return g.oauth2_request

    def handle_response(self, status_code, payload, headers) -> Response:
        if isinstance(payload, dict):
            payload = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return Response(payload, status=status_code, headers=headers)

    def create_token_response(self, request=None) -> Response:
        """RFC 6749 3.2: a missing grant_type or a repeated parameter is invalid_request."""
        oauth_request = self.create_oauth2_request(request)
        form = flask_request.form
        if not form.get("grant_type"):
            return self.handle_error_response(
                oauth_request, InvalidRequestError("Missing 'grant_type' in request.")
            )
        for name in form:
            if name not in REPEATABLE_TOKEN_PARAMETERS and len(form.getlist(name)) > 1:
                return self.handle_error_response(
                    oauth_request, InvalidRequestError("A parameter is repeated.")
                )
        return super().create_token_response(request)

    def create_endpoint_response(self, name, request=None):
        """Introspection and revocation also refuse repeated parameters (RFC 6749 3.2)."""
        if name in ("introspection", "revocation"):
            form = flask_request.form
            if any(len(form.getlist(key)) > 1 for key in form):
                return self.handle_error_response(
                    self.create_oauth2_request(request),
                    InvalidRequestError("A parameter is repeated."),
                )
        return super().create_endpoint_response(name, request)


def create_server(app: Flask) -> ProviderServer:
    server = ProviderServer()
    server.init_app(app)
    server.register_grant(
        grants.AuthorizationCodeGrant,
        [
            request_checks.CodeChallenge(required=True),
            grants.OpenIDCode(require_nonce=False),
            request_checks.AuthorizationRequestChecks(),
        ],
    )
    server.register_grant(grants.RefreshTokenGrant, [grants.OpenIDRefresh()])
    server.register_grant(grants.ClientCredentialsGrant)
    server.register_client_auth_method("private_key_jwt", PrivateKeyJWT())
    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(RevocationEndpoint)
    protector = ResourceProtector()
    protector.register_token_validator(BearerTokenValidator(realm=app.config["ISSUER"]))
    server.register_endpoint(UserInfoEndpoint(resource_protector=protector))
    server.register_extension(ProviderIssuerParameter())
    app.extensions[EXTENSION_KEY] = server
    return server


def get_server() -> ProviderServer:
    return current_app.extensions[EXTENSION_KEY]
