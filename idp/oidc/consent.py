"""Consent: what a person agreed an application may receive, remembered per client.

The page lists what will be released: each scope, and the claims the request names in its
`claims` parameter beyond those scopes (idp.oidc.claims.individual_claims). A request
needing a scope or a claim the person has not agreed to for that client asks again; first-
party clients (the province's own applications) do not ask unless prompt=consent, and a
client that registered itself (RFC 7591) is never first-party. Consent can be withdrawn
from the account page, which also revokes the client's tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _

from idp import audit
from idp.clients import store as clients_store
from idp.directory.models import User
from idp.extensions import utcnow
from idp.oidc import store
from idp.oidc.grants import family_revocation_until
from idp.pages import PageForm

CONSENT_ACTION = "consent_action"
ALLOW, DENY = "allow", "deny"


class ConsentForm(PageForm):
    """Only the CSRF token: the decision is the button pressed, the request rides along."""


def display_name(client: Any) -> str:
    """The client's name in the page's language (RFC 7591 2.2 "client_name#en"), if given."""
    from flask_babel import get_locale

    return client.meta(f"client_name#{get_locale()}") or client.client_name


def client_links(client: Any) -> dict[str, str]:
    """The client's registered logo, home page, policy and terms (RFC 7591 2), http(s) only."""
    links = {}
    for name in ("logo_uri", "client_uri", "policy_uri", "tos_uri"):
        value = client.meta(name)
        if isinstance(value, str) and urlsplit(value).scheme in ("https", "http"):
            links[name] = value
    return links


def destination(redirect_uri: str) -> str:
    """Where allowing sends the person, for people: the host, or a native app's scheme."""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("https", "http") and parts.hostname:
        return parts.hostname
    return f"{parts.scheme}:"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def describe_scope(scope: str) -> str:
    """One sentence per scope, for people (Vietnamese first, English via the catalogue)."""
    known = {
        "openid": _("Biết bạn là ai: mã định danh tài khoản của bạn."),
        "profile": _("Xem họ và tên, tên đăng nhập và ngôn ngữ của bạn."),
        "email": _("Xem địa chỉ thư điện tử công vụ của bạn."),
        "phone": _("Xem số điện thoại của bạn."),
        "org": _("Xem đơn vị công tác, chức danh và vai trò của bạn."),
        "offline_access": _(
            "Tiếp tục truy cập khi bạn không đăng nhập, cho đến khi bạn thu hồi quyền."
        ),
        "admin:read": _("Xem dữ liệu quản trị trong phạm vi bạn được quản trị, thay mặt bạn."),
        "admin:write": _(
            "Thay đổi dữ liệu quản trị trong phạm vi bạn được quản trị, thay mặt bạn."
        ),
    }
    return known.get(scope) or _("Quyền truy cập “%(scope)s”.", scope=scope)


def describe_scopes(scopes: list[str]) -> list[str]:
    return [describe_scope(s) for s in dict.fromkeys(scopes)]


def claim_label(claim: str) -> str:
    """A claim about the person (idp.profile.CLAIM_SCOPE), named for people."""
    known = {
        "name": _("họ và tên"),
        "family_name": _("họ"),
        "middle_name": _("tên đệm"),
        "given_name": _("tên"),
        "preferred_username": _("tên đăng nhập"),
        "locale": _("ngôn ngữ"),
        "updated_at": _("thời điểm cập nhật hồ sơ"),
        "email": _("địa chỉ thư điện tử công vụ"),
        "email_verified": _("việc địa chỉ thư điện tử đã được xác minh"),
        "phone_number": _("số điện thoại"),
        "phone_number_verified": _("việc số điện thoại đã được xác minh"),
        "unit_code": _("mã đơn vị công tác"),
        "unit_name": _("tên đơn vị công tác"),
        "unit_path": _("các cấp của đơn vị công tác"),
        "title": _("chức danh"),
        "roles": _("vai trò"),
    }
    return known.get(claim, claim)


def describe(scopes: list[str], claims: list[str]) -> list[str]:
    """The consent page's list: a sentence per scope, then one for the claims named alone."""
    sentences = describe_scopes(scopes)
    if claims:
        labels = ", ".join(claim_label(c) for c in claims)
        sentences.append(_("Xem %(claims)s của bạn.", claims=labels))
    return sentences


def consented(user_id: int, client_id: str) -> tuple[set[str], set[str]]:
    """The scopes and the claims named alone that the person agreed to give the client."""
    consent = store.find_consent(user_id, client_id)
    if consent is None:
        return set(), set()
    return set(consent.scope.split()), set((consent.claims or "").split())


def give_consent(
    user: User, client_id: str, scopes: list[str], claims: list[str], now: datetime, origin: dict
) -> None:
    store.save_consent(user.id, client_id, scopes, claims, now)
    detail = {"scope": " ".join(scopes)}
    if claims:
        detail["claims"] = " ".join(claims)
    audit.record("consent_given", actor=user.sub, subject=client_id, detail=detail, **origin)


def withdraw_consent(user: User, client_id: str, now: datetime, origin: dict) -> bool:
    """Forget the consent and revoke every token the client holds for this person."""
    client = clients_store.find_active_client(client_id)
    removed = store.delete_consent(user.id, client_id)
    for grant in store.live_grants(user_id=user.id, client_id=client_id):
        until = family_revocation_until(client, now) if client else grant.expires_at
        store.revoke_grant_family(grant.gid, until=until, reason="consent_withdrawn", now=now)
    if removed:
        audit.record("consent_withdrawn", actor=user.sub, subject=client_id, **origin)
    return removed


def granted_apps(user_id: int) -> list[dict[str, Any]]:
    """The applications a person gave consent to, for the account page."""
    consents = store.consents_of(user_id)
    clients = clients_store.clients_by_id(consent.client_id for consent in consents)
    return [
        {
            "client_id": client.client_id,
            "name": display_name(client),
            "scopes": describe(consent.scope.split(), (consent.claims or "").split()),
            "updated_at": consent.updated_at,
        }
        for consent in consents
        if (client := clients.get(consent.client_id)) is not None
    ]


def signed_in_apps(user_id: int, used: Iterable[str]) -> list[dict[str, Any]]:
    """The applications a person signed in to that hold no consent, for the account page.

    First-party clients never ask (checks.py), so they have no consent row; an application
    whose consent was withdrawn may still be listed in a live session. Both are named here,
    from the live sessions' applications (`used`) and the live grants (tokens held), so the
    page never says "no application" while a session shows some.
    """
    now = utcnow()
    holding = [
        grant.client_id for grant in store.live_grants(user_id=user_id) if grant.expires_at > now
    ]
    allowed = {consent.client_id for consent in store.consents_of(user_id)}
    wanted = [cid for cid in dict.fromkeys([*used, *sorted(holding)]) if cid not in allowed]
    clients = clients_store.clients_by_id(wanted)
    return [
        {"client_id": cid, "name": display_name(client), "first_party": client.skips_consent}
        for cid in wanted
        if (client := clients.get(cid)) is not None
    ]
