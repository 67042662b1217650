"""Authorization request checks Authlib leaves to the provider, as grant extensions.

- CodeChallenge: RFC 7636 with S256 only, required for public clients (RFC 9700 2.1.1).
- AuthorizationRequestChecks: repeated and oversized parameters, request objects,
  response_mode, prompt and max_age syntax, the claims parameter (OIDC Core 3.1.2.1, 5.5).

Both run once the client and redirect URI are known, so their errors go back to the
client (OIDC Core 3.1.2.6).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import InvalidRequestError, UnauthorizedClientError
from authlib.oauth2.rfc7636 import CodeChallenge as _CodeChallenge
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError

from idp.oidc.claims import limit_claims_request, parse_claims_request
from idp.profile import PROMPT_VALUES, RESPONSE_MODES

# Longest value accepted for an ordinary authorization request parameter; a few carry more.
PARAMETER_MAX_LENGTH = 2048
LONG_PARAMETERS = {"claims": 4096, "id_token_hint": 8192, "state": 4096}
# Parameters that must appear at most once (RFC 6749 3.1; Authlib checks the five core ones).
SINGLE_PARAMETERS = (
    "response_mode",
    "nonce",
    "prompt",
    "max_age",
    "claims",
    "acr_values",
    "id_token_hint",
    "login_hint",
    "ui_locales",
    "display",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
)


class CodeChallenge(_CodeChallenge):
    """RFC 7636 with S256 only; required for public clients (RFC 9700 2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        if challenge and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        if not challenge and grant.request.client.is_public:
            raise InvalidRequestError("Public clients must use PKCE (code_challenge with S256).")


class AuthorizationRequestChecks:
    """Checks on authorization request parameters that Authlib leaves to the provider.

    Registered on the code grant; runs once the client and redirect URI are known, so its
    errors go back to the client (OIDC Core 3.1.2.6).
    """

    def __call__(self, grant) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.check)

    def check(self, grant, _result) -> None:
        request = grant.request
        if not request.client.check_grant_type("authorization_code"):
            raise UnauthorizedClientError("The client may not use the authorization code grant.")
        data = request.payload.data
        check_repeated_and_long(request.payload.datalist)
        check_no_request_object(data)
        redirect_uri = request.payload.redirect_uri or request.client.get_default_redirect_uri()
        check_response_mode(data.get("response_mode"), redirect_uri)
        check_prompt(data.get("prompt"))
        check_max_age(data.get("max_age"))
        request.claims_request = limit_claims_request(
            parse_claims_request(data.get("claims")), request.client.scope
        )


def check_repeated_and_long(datalist: dict[str, list]) -> None:
    """At most one of each SINGLE_PARAMETERS; no value longer than its limit."""
    for name in SINGLE_PARAMETERS:
        if len(datalist.get(name, [])) > 1:
            raise InvalidRequestError(f"Multiple '{name}' in request.")
    for name, values in datalist.items():
        limit = LONG_PARAMETERS.get(name, PARAMETER_MAX_LENGTH)
        if any(isinstance(v, str) and len(v) > limit for v in values):
            raise InvalidRequestError("A request parameter is too long.")


def check_no_request_object(data: dict) -> None:
    """OIDC Core 6: request objects are not supported, by value or by reference."""
    if "request" in data:
        raise RequestNotSupportedError("Request objects are not supported.")
    if "request_uri" in data:
        raise RequestURINotSupportedError("request_uri is not supported.")


def check_response_mode(mode: str | None, redirect_uri: str | None) -> None:
    if mode is not None and mode not in RESPONSE_MODES:
        raise InvalidRequestError("Unsupported 'response_mode'.")
    if mode == "form_post" and urlsplit(redirect_uri).scheme not in ("http", "https"):
        raise InvalidRequestError("form_post needs an http(s) redirect_uri.")


def check_prompt(prompt: str | None) -> None:
    prompts = (prompt or "").split()
    if any(p not in PROMPT_VALUES for p in prompts):
        raise InvalidRequestError("Unsupported 'prompt' value.")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")


def check_max_age(max_age: str | None) -> None:
    if max_age is not None and not (max_age.isascii() and max_age.isdigit() and len(max_age) <= 10):
        raise InvalidRequestError("'max_age' must be a non-negative integer.")
