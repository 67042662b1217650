"""Every table of the provider, imported once so migrations and create_all see them all."""

from idp.audit import AuditEvent
from idp.directory.models import Unit, User, UserEmail
from idp.keys.models import SigningKey
from idp.oidc.models import Client, InitialAccessToken
from idp.sessions.models import LoginThrottle, SsoSession

__all__ = [
    "AuditEvent",
    "Client",
    "InitialAccessToken",
    "LoginThrottle",
    "SigningKey",
    "SsoSession",
    "Unit",
    "User",
    "UserEmail",
]
