"""The registration endpoints: RFC 7591 (register) and RFC 7592 (read, update, delete).

Authlib's ClientRegistrationEndpoint and ClientConfigurationEndpoint drive the protocol; the
hooks below hand over to registration_service. Registering needs an initial access token
(`idp registration-token create`); managing a client needs the registration access token
returned at registration. Errors are the RFC 7591 / RFC 6750 codes, never a 500.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, JsonPayload, JsonRequest, OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint as _RegistrationEndpoint
from authlib.oauth2.rfc7591 import InvalidClientMetadataError, InvalidRedirectURIError
from authlib.oauth2.rfc7592 import ClientConfigurationEndpoint as _ConfigurationEndpoint
from flask import Blueprint, Flask, Response, current_app
from flask import request as flask_request

from idp import audit, jsontext
from idp.clients import Client, initial_access
from idp.clients import registration as registration_service
from idp.clients import service as clients_service
from idp.clients.metadata import (
    InvalidClientMetadata,
    InvalidRedirectURI,
    MetadataPolicy,
    policy_from_config,
)
from idp.extensions import commit, csrf, rollback
from idp.oidc.server import EXTENSION_KEY, get_server
from idp.profile import REGISTRATION_PATH

MAX_BODY_BYTES = 64 * 1024
# Metadata nests a few levels (jwks: keys, a key, x5c); deeper bodies are refused unparsed.
MAX_BODY_DEPTH = 16

bp = Blueprint("registration", __name__)


def metadata_policy() -> MetadataPolicy:
    """The rules for self-registered clients under the current app's settings."""
    return policy_from_config(current_app.config, dynamic=True)


def registration_endpoint_url() -> str:
    """The registration_endpoint for discovery (OpenID Connect Discovery 1.0 section 3)."""
    return current_app.config["ISSUER"] + REGISTRATION_PATH


def registration_client_uri(client_id: str) -> str:
    return f"{registration_endpoint_url()}/{client_id}"


def ascii_description(text: str) -> str:
    """RFC 6749 5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E."""
    cleaned = "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)
    return cleaned[:300]


def metadata_error(exc: InvalidClientMetadata) -> OAuth2Error:
    cls = (
        InvalidRedirectURIError
        if isinstance(exc, InvalidRedirectURI)
        else InvalidClientMetadataError
    )
    return cls(description=ascii_description(exc.description))


def token_error(description: str) -> InvalidTokenError:
    return InvalidTokenError(description=description)


class SafeJsonPayload(JsonPayload):
    """The JSON body, parsed once; a body that is not a JSON object is invalid metadata."""

    @cached_property
    def data(self) -> dict[str, Any]:
        if (flask_request.content_length or 0) > MAX_BODY_BYTES:
            raise InvalidClientMetadataError(description="the request body is too large")
        raw = flask_request.get_data(cache=True)
        if len(raw) > MAX_BODY_BYTES:
            raise InvalidClientMetadataError(description="the request body is too large")
        try:
            data = jsontext.loads(raw, max_length=MAX_BODY_BYTES, max_depth=MAX_BODY_DEPTH)
        except jsontext.InvalidJson as exc:
            raise InvalidClientMetadataError(
                description="the request body must be a JSON object"
            ) from exc
        if not isinstance(data, dict):
            raise InvalidClientMetadataError(description="the request body must be a JSON object")
        return data


class SafeJsonRequest(JsonRequest):
    def __init__(self) -> None:
        super().__init__(flask_request.method, flask_request.url, flask_request.headers)
        self.payload = SafeJsonPayload()


def bearer_token(request: JsonRequest) -> str | None:
    """RFC 6750 2.1: the token from `Authorization: Bearer ...`, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class RegistrationToken:
    """The registration access token presented to the configuration endpoint."""

    def __init__(self, token: str, client: Client) -> None:
        self.token = token
        self.client = client

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client.client_id


class ClientRegistrationEndpoint(_RegistrationEndpoint):
    """RFC 7591 section 3: register a client, with an initial access token (section 1.2)."""

    def create_endpoint_request(self, request: Any) -> SafeJsonRequest:
        return SafeJsonRequest()

    def get_server_metadata(self) -> dict[str, Any]:
        return {}

    def authenticate_token(self, request: SafeJsonRequest) -> str:
        token = bearer_token(request)
        if initial_access.find_valid_token(token) is None:
            raise token_error(
                "a valid initial access token is required (Authorization: Bearer ...)"
            )
        return token

    def extract_client_metadata(self, request: SafeJsonRequest) -> dict[str, Any]:
        try:
            metadata = clients_service.validate_metadata(request.payload.data, metadata_policy())
        except InvalidClientMetadata as exc:
            raise metadata_error(exc) from exc
        request.validated_metadata = metadata
        return metadata

    def generate_client_info(self, request: SafeJsonRequest) -> dict[str, Any]:
        return {}  # client_id and secret are made by save_client, in the same transaction

    def save_client(
        self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: Any
    ) -> Client:
        try:
            registered = registration_service.register_client(
                request.credential, client_metadata, metadata_policy(), audit.request_origin()
            )
        except registration_service.TokenRejected as exc:
            raise token_error("the initial access token is no longer valid") from exc
        except InvalidClientMetadata as exc:
            raise metadata_error(exc) from exc
        request.registered = registered
        return registered.client

    def generate_client_registration_info(self, client: Client, request: Any) -> dict[str, Any]:
        registered = request.registered
        info: dict[str, Any] = {
            "client_id": client.client_id,
            "client_id_issued_at": client.client_id_issued_at,
            "registration_client_uri": registration_client_uri(client.client_id),
            "registration_access_token": registered.registration_access_token,
        }
        if registered.client_secret:
            # RFC 7591 3.2.1: client_secret_expires_at is required with a secret (0: never).
            info["client_secret"] = registered.client_secret
            info["client_secret_expires_at"] = client.client_secret_expires_at
        return info


class ClientConfigurationEndpoint(_ConfigurationEndpoint):
    """RFC 7592 section 2: read, update and delete with the registration access token."""

    def create_endpoint_request(self, request: Any) -> SafeJsonRequest:
        return SafeJsonRequest()

    def get_server_metadata(self) -> dict[str, Any]:
        return {}

    def authenticate_token(self, request: SafeJsonRequest) -> RegistrationToken:
        client_id = (flask_request.view_args or {}).get("client_id", "")
        token = bearer_token(request)
        try:
            client = registration_service.authenticate(client_id, token)
        except registration_service.TokenRejected as exc:
            # RFC 7592 section 2: an invalid token is answered per RFC 6750 (401).
            raise token_error("the registration access token is not valid") from exc
        return RegistrationToken(token, client)

    def authenticate_client(self, request: Any) -> Client:
        return request.credential.client

    def revoke_access_token(self, request: Any, token: Any) -> None:
        """Not reached: a token for an unknown client is refused in authenticate_token."""

    def check_permission(self, client: Client, request: Any) -> bool:
        # A client disabled by the administrators cannot manage its own registration.
        return client.active

    def extract_client_metadata(self, request: SafeJsonRequest) -> dict[str, Any]:
        try:
            return clients_service.validate_metadata(request.payload.data, metadata_policy())
        except InvalidClientMetadata as exc:
            raise metadata_error(exc) from exc

    def introspect_client(self, client: Client) -> dict[str, Any]:
        return clients_service.registration_view(client)

    def generate_client_registration_info(self, client: Client, request: Any) -> dict[str, Any]:
        info = {
            "registration_client_uri": registration_client_uri(client.client_id),
            "registration_access_token": request.credential.token,
        }
        new_secret = getattr(request, "new_client_secret", None)
        if new_secret:
            info["client_secret"] = new_secret
        return info

    def update_client(
        self, client: Client, client_metadata: dict[str, Any], request: Any
    ) -> Client:
        try:
            result = registration_service.update_client(client, client_metadata, metadata_policy())
        except InvalidClientMetadata as exc:
            raise metadata_error(exc) from exc
        request.new_client_secret = result.client_secret
        return result.client

    def delete_client(self, client: Client, request: Any) -> None:
        registration_service.delete_client(client)


def _settled(response: Response) -> Response:
    """Keep the endpoint's work only when it succeeded: an error response (a spent initial
    access token, bad metadata) leaves the registry and the token's uses as they were."""
    if response.status_code < 400:
        commit()
    else:
        rollback()
    return response


@bp.post(REGISTRATION_PATH)
def register() -> Response:
    return _settled(get_server().create_endpoint_response(ClientRegistrationEndpoint.ENDPOINT_NAME))


@bp.route(f"{REGISTRATION_PATH}/<client_id>", methods=["GET", "PUT", "DELETE"])
def configure(client_id: str) -> Response:
    return _settled(
        get_server().create_endpoint_response(ClientConfigurationEndpoint.ENDPOINT_NAME)
    )


def register_endpoints(server: AuthorizationServer) -> None:
    """Put the two endpoints on the app's authorization server (idp.oidc.server)."""
    server.register_endpoint(ClientRegistrationEndpoint())
    server.register_endpoint(ClientConfigurationEndpoint())


def init_registration(app: Flask) -> None:
    """Serve the registration endpoints (called from idp.oidc.init_app, after the server)."""
    register_endpoints(app.extensions[EXTENSION_KEY])
    # Bearer-token JSON endpoints for programs: no cookies, so no CSRF token.
    csrf.exempt(bp)
    app.register_blueprint(bp)
