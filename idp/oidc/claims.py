"""Claims about a person: which ones a request gets, and their values from the directory.

Scopes choose claims (OIDC Core 5.4; `org` is ours, for the unit, title and roles), and the
`claims` request parameter (OIDC Core 5.5) can add single claims to the ID token or the
userinfo response, but only claims that a scope the client is registered for covers: the
parameter picks among what the client may have, it never widens it. Names are in
profile.SCOPE_CLAIMS and documented in docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import current_app

from idp import jsontext
from idp.directory.models import User
from idp.profile import CLAIM_SCOPE, SCOPE_CLAIMS, USER_CLAIMS

CLAIMS_PARAMETER_MAX_LENGTH = 4096
CLAIMS_PER_MEMBER_MAX = 64
# {"userinfo": {"unit_path": {"value": [{"code": "STC"}]}}} nests 5 deep; nothing sensible
# goes further, and json.loads would recurse once per level (idp.jsontext).
CLAIMS_MAX_DEPTH = 8
UNIT_CLAIMS = ("unit_code", "unit_name", "unit_path")


def parse_claims_request(raw: str | None) -> dict[str, dict[str, dict[str, Any]]] | None:
    """The claims parameter as {"id_token": {name: spec}, "userinfo": {name: spec}}.

    A spec keeps `essential` (bool), `value` and `values`; null becomes {}. Raises
    InvalidRequestError for anything that is not such a JSON object.
    """
    if raw is None or raw == "":
        return None
    if len(raw) > CLAIMS_PARAMETER_MAX_LENGTH:
        raise InvalidRequestError("The 'claims' parameter is too long.")
    try:
        data = jsontext.loads(
            raw, max_length=CLAIMS_PARAMETER_MAX_LENGTH, max_depth=CLAIMS_MAX_DEPTH
        )
    except jsontext.InvalidJson:
        raise InvalidRequestError(
            "The 'claims' parameter is not valid JSON or is nested too deeply."
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequestError("The 'claims' parameter must be a JSON object.")
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for member in ("id_token", "userinfo"):
        requested = data.get(member)
        if requested is None:
            continue
        if not isinstance(requested, dict) or len(requested) > CLAIMS_PER_MEMBER_MAX:
            raise InvalidRequestError(f"The 'claims.{member}' member must be a JSON object.")
        entries: dict[str, dict[str, Any]] = {}
        for name, spec in requested.items():
            if spec is None:
                entries[name] = {}
            elif isinstance(spec, dict):
                entry: dict[str, Any] = {}
                if "essential" in spec:
                    if not isinstance(spec["essential"], bool):
                        raise InvalidRequestError("'essential' must be true or false.")
                    entry["essential"] = spec["essential"]
                if "value" in spec:
                    entry["value"] = spec["value"]
                if "values" in spec:
                    if not isinstance(spec["values"], list):
                        raise InvalidRequestError("'values' must be a JSON array.")
                    entry["values"] = spec["values"]
                if name == "acr":
                    _check_acr_spec(entry)
                entries[name] = entry
            else:
                raise InvalidRequestError(f"Claim requests in 'claims.{member}' must be objects.")
        result[member] = entries
    return result or None


def _check_acr_spec(entry: dict[str, Any]) -> None:
    """The acr claim's `value` is a string and its `values` a non-empty array of strings
    (OIDC Core 5.5.1.1): anything else asks for no level we could check, and an essential
    request for it must not pass as a request for none."""
    if "value" in entry and not isinstance(entry["value"], str):
        raise InvalidRequestError("The 'acr' claim's 'value' must be a string.")
    values = entry.get("values")
    if values is not None and (not values or not all(isinstance(v, str) for v in values)):
        raise InvalidRequestError("The 'acr' claim's 'values' must be strings.")


def limit_claims_request(
    claims: dict[str, dict[str, dict[str, Any]]] | None, client_scope: str
) -> dict[str, dict[str, dict[str, Any]]] | None:
    """The claims request without the claims about the person that no scope the client is
    registered for covers (profile.CLAIM_SCOPE): those are never released, so they are
    neither shown on the consent page nor stored with the code. OIDC Core 5.5 lets the
    provider leave out claims it will not return; other names (acr, auth_time) stay.
    """
    if not claims:
        return claims
    allowed = set(client_scope.split())
    return {
        member: {
            name: spec
            for name, spec in entries.items()
            if name not in CLAIM_SCOPE or CLAIM_SCOPE[name] in allowed
        }
        for member, entries in claims.items()
    }


def releasable(names: Iterable[str], client_scope: str) -> set[str]:
    """The claim names a client registered for `client_scope` may receive."""
    allowed = set(client_scope.split())
    return {n for n in names if n in USER_CLAIMS and CLAIM_SCOPE.get(n, "openid") in allowed}


def requested_names(
    scope: str, claims: dict[str, Any] | None, member: str, *, client_scope: str
) -> set[str]:
    """User claim names for a token or response: those of the scopes plus those asked for,
    limited to what the client's registered scopes (`client_scope`) cover."""
    names: set[str] = set()
    for part in (scope or "").split():
        names.update(SCOPE_CLAIMS.get(part, ()))
    if claims and member in claims:
        names.update(claims[member])
    return releasable(names, client_scope)


def individual_claims(scopes: Iterable[str], claims: dict[str, Any] | None) -> list[str]:
    """Claims about the person asked for by name (ID token or userinfo) that the requested
    scopes do not cover: what the consent page lists beside the scopes, in a fixed order."""
    covered = {c for scope in scopes for c in SCOPE_CLAIMS.get(scope, ())}
    asked = {name for entries in (claims or {}).values() for name in entries}
    return [c for c in CLAIM_SCOPE if c in asked and c not in covered]


def user_claims(
    user: User, names: Iterable[str], unit_path: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """Values of the named claims that the user has (missing values are left out).

    `unit_path` (root first, as from store.load_unit_path) is needed only for unit claims.
    """
    wanted = set(names)
    values: dict[str, Any] = {"sub": user.sub}
    # One step per group, in this order: the order of the claims in tokens and responses.
    _add_name_claims(values, user, wanted)
    _add_profile_claims(values, user, wanted)
    _add_contact_claims(values, user, wanted)
    if unit_path and wanted & set(UNIT_CLAIMS):
        _add_unit_claims(values, unit_path, wanted)
    _add_org_claims(values, user, wanted)
    return values


def _add_name_claims(values: dict[str, Any], user: User, wanted: set[str]) -> None:
    for claim, value in (
        ("name", user.name),
        ("family_name", user.family_name),
        ("middle_name", user.middle_name),
        ("given_name", user.given_name),
    ):
        if claim in wanted and value:
            values[claim] = value


def _add_profile_claims(values: dict[str, Any], user: User, wanted: set[str]) -> None:
    if "preferred_username" in wanted:
        values["preferred_username"] = user.email
    if "locale" in wanted:
        values["locale"] = user.locale or current_app.config["LANGUAGES"][0]
    if "updated_at" in wanted and user.updated_at is not None:
        values["updated_at"] = int(user.updated_at.timestamp())


def _add_contact_claims(values: dict[str, Any], user: User, wanted: set[str]) -> None:
    if "email" in wanted:
        values["email"] = user.email
    if "email_verified" in wanted:
        # Addresses come from the province's mail system, which owns them.
        values["email_verified"] = True
    if user.phone_number:
        if "phone_number" in wanted:
            values["phone_number"] = user.phone_number
        if "phone_number_verified" in wanted:
            # Copied from the personnel records, not confirmed by the person.
            values["phone_number_verified"] = False


def _add_unit_claims(
    values: dict[str, Any], unit_path: list[dict[str, str]], wanted: set[str]
) -> None:
    unit = unit_path[-1]
    if "unit_code" in wanted:
        values["unit_code"] = unit["code"]
    if "unit_name" in wanted:
        values["unit_name"] = unit["name"]
    if "unit_path" in wanted:
        values["unit_path"] = unit_path


def _add_org_claims(values: dict[str, Any], user: User, wanted: set[str]) -> None:
    if "title" in wanted and user.title:
        values["title"] = user.title
    if "roles" in wanted:
        values["roles"] = list(user.roles or [])


def needs_unit_path(names: Iterable[str]) -> bool:
    return bool(set(names) & set(UNIT_CLAIMS))
