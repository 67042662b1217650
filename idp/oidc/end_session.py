"""OpenID Connect RP-Initiated Logout 1.0, sections 2-4: checking a logout request.

Authlib's EndSessionEndpoint, with the checks of this provider:

- `id_token_hint` must be an ID token we issued (idp.oidc.tokens.verify_id_token_hint:
  never an access token, a logout token or a signed userinfo response) for a client we know
  (`aud`); an expired one is accepted (section 2: the RP may hold only an expired token).
  Anything else is an error and nothing happens.
- `client_id` must be a known client, and the hint's audience when both are given.
- `post_logout_redirect_uri` must exactly match one of the client's registered
  post_logout_redirect_uris (section 3); without a client to check it against, or when it
  does not match, the request is refused: an error page, no sign-out, no redirect.

Errors are never redirected (section 4). Whether the person must confirm is decided by
the view (idp.oidc.logout), which knows the browser's session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest

from idp.clients.uris import match_redirect_uri
from idp.oidc.tokens import token_audiences, verify_id_token_hint

PARAMETERS = (
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
    "logout_hint",
)
MAX_LENGTH = {"id_token_hint": 8192, "state": 4096, "post_logout_redirect_uri": 2048}
DEFAULT_MAX_LENGTH = 512


class InvalidIdTokenHintError(InvalidRequestError):
    """The id_token_hint is not an ID token this provider issued to a known client."""


class UnknownClientError(InvalidRequestError):
    """client_id names no active client, or another client than the hint's audience."""


class InvalidPostLogoutRedirectUriError(InvalidRequestError):
    """post_logout_redirect_uri is not registered (or there is no client to check it)."""


@dataclass
class LogoutRequest(EndSessionRequest):
    """A validated logout request; `redirect_uri` already carries `state`."""

    state: str | None = None
    id_token_hint: str | None = None


class EndSessionEndpoint(_EndSessionEndpoint):
    def validate_request(self, request) -> LogoutRequest:
        datalist = request.payload.datalist
        for name in PARAMETERS:
            values = datalist.get(name, [])
            if len(values) > 1:
                raise InvalidRequestError(f"Multiple '{name}' in request.")
            if values and len(values[0]) > MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH):
                raise InvalidRequestError(f"'{name}' is too long.")
        data = {name: (datalist.get(name) or [""])[0] or None for name in PARAMETERS}

        hint_claims, hint_client = None, None
        if data["id_token_hint"]:
            hint_claims = self.check_id_token_hint(data["id_token_hint"])
            hint_client = self.resolve_client_from_id_token_claims(hint_claims)
            if hint_client is None:
                raise InvalidIdTokenHintError("The id_token_hint is for an unknown client.")

        client = hint_client
        if data["client_id"]:
            client = self.server.query_client(data["client_id"])
            if client is None:
                raise UnknownClientError("Unknown or disabled 'client_id'.")
            if hint_claims is not None and data["client_id"] not in token_audiences(hint_claims):
                # Section 2: client_id must match the audience of the ID token.
                raise UnknownClientError("'client_id' does not match the id_token_hint.")

        redirect_uri = None
        if data["post_logout_redirect_uri"]:
            if client is None:
                raise InvalidPostLogoutRedirectUriError(
                    "post_logout_redirect_uri needs a client_id or an id_token_hint."
                )
            # Section 3: exact string comparison; the registered string is the one used.
            redirect_uri = match_redirect_uri(
                data["post_logout_redirect_uri"],
                client.post_logout_redirect_uris,
                loopback_port=False,
            )
            if redirect_uri is None:
                raise InvalidPostLogoutRedirectUriError(
                    "The post_logout_redirect_uri is not registered for this client."
                )
            if data["state"]:
                # Section 3: the state of the request goes back with the redirect.
                redirect_uri = add_params_to_uri(redirect_uri, [("state", data["state"])])

        return LogoutRequest(
            request=request,
            client=client,
            id_token_claims=hint_claims,
            redirect_uri=redirect_uri,
            logout_hint=data["logout_hint"],
            ui_locales=data["ui_locales"],
            state=data["state"],
            id_token_hint=data["id_token_hint"],
        )

    def check_id_token_hint(self, hint: str) -> dict[str, Any]:
        """One of our ID tokens; `exp` is not checked (section 2)."""
        claims = verify_id_token_hint(hint)
        if claims is None:
            raise InvalidIdTokenHintError("The id_token_hint is not an ID token of this provider.")
        return claims

    def resolve_client_from_id_token_claims(self, id_token_claims: dict) -> Any | None:
        audiences = token_audiences(id_token_claims)
        azp = id_token_claims.get("azp")
        if len(audiences) != 1 and isinstance(azp, str) and azp in audiences:
            audiences = [azp]
        return self.server.query_client(audiences[0]) if len(audiences) == 1 else None

    def end_session(self, end_session_request) -> None:
        """Not used: idp.oidc.logout ends the session through idp.sessions.logout."""
        raise NotImplementedError
