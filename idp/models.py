"""Every table of the provider, imported once so migrations and create_all see them all."""

from idp.audit import AuditEvent
from idp.clients.models import Client, InitialAccessToken
from idp.directory.models import AccountToken, Unit, User, UserEmail
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
from idp.sessions.models import LoginThrottle, SessionClient, SsoSession

__all__ = [
    "AccountToken",
    "AuditEvent",
    "AuthorizationCode",
    "Client",
    "Consent",
    "Grant",
    "InitialAccessToken",
    "LoginThrottle",
    "MailMessage",
    "RefreshToken",
    "Revocation",
    "SessionClient",
    "SigningKey",
    "SsoSession",
    "Unit",
    "UsedAssertion",
    "User",
    "UserEmail",
]
