"""Every table of the provider, imported once so migrations and create_all see them all."""

from idp.admin.models import UnitAdmin
from idp.audit import AuditEvent
from idp.clients.models import Client, InitialAccessToken
from idp.directory.models import AccountToken, DirectorySyncLock, Unit, User, UserEmail
from idp.factors.models import PendingSignIn, RecoveryCode, TotpFactor
from idp.keys.models import SigningKey
from idp.mail.models import MailMessage
from idp.oidc.token_models import (
    AuthorizationCode,
    Consent,
    Grant,
    RefreshToken,
    Revocation,
    UsedAssertion,
)
from idp.passkeys.models import Passkey, PasskeyUsedChallenge
from idp.sessions.models import LoginThrottle, SessionClient, SsoSession
from idp.upstreams.logout_models import UpstreamLogoutToken
from idp.upstreams.models import UpstreamLink, UpstreamPendingLink, UpstreamSession
from idp.upstreams.origin_models import UpstreamAccountOrigin

__all__ = [
    "AccountToken",
    "AuditEvent",
    "AuthorizationCode",
    "Client",
    "Consent",
    "DirectorySyncLock",
    "Grant",
    "InitialAccessToken",
    "LoginThrottle",
    "MailMessage",
    "Passkey",
    "PasskeyUsedChallenge",
    "PendingSignIn",
    "RecoveryCode",
    "RefreshToken",
    "Revocation",
    "SessionClient",
    "SigningKey",
    "SsoSession",
    "TotpFactor",
    "Unit",
    "UnitAdmin",
    "UpstreamAccountOrigin",
    "UpstreamLink",
    "UpstreamLogoutToken",
    "UpstreamPendingLink",
    "UpstreamSession",
    "UsedAssertion",
    "User",
    "UserEmail",
]
