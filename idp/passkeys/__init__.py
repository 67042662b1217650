"""Passkeys (WebAuthn): several per person, named and removable; a second factor, and a
phishing-resistant way to sign in alone (docs/passkeys.md).

models/store: the credentials and the answered challenges; service: the ceremonies, plain
values in and out (the second-factor step calls it through `ceremonies`); ceremonies: the
ceremony kept in the browser's signed session between its two steps; views: the account
page's "Bảo mật" actions and the passkey sign-in; pages: the words people read.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from idp.assurance import ACR_PHISHING_RESISTANT, AMR_HARDWARE_KEY, rank
from idp.factors import methods
from idp.passkeys import service
from idp.passkeys.pages import NOTICES, SUCCESSES, message

# A second factor on the factor page (idp.factors.methods): the page runs the WebAuthn
# ceremony (`form` "passkey") against the person's own passkeys. With user verification it
# reaches the phishing-resistant level (idp.assurance); the session records the amr the
# ceremony earned (`hwk` or `swk`, `user`), `amr` here only names the kind.
PASSKEY_METHOD = methods.FactorMethod(
    name="passkey",
    amr=AMR_HARDWARE_KEY,
    form="passkey",
    has=service.has_passkeys,
    rank=rank(ACR_PHISHING_RESISTANT),
)


def _account_passkeys(user: Any) -> list[Any]:
    return service.passkeys_of(user)


def _notice() -> dict[str, Any] | None:
    """The account page's note after a passkey action (`?passkey=<code>`): its words, and
    whether it says that something failed."""
    code = request.args.get("passkey")
    if code not in NOTICES:
        return None
    return {"text": message(code), "error": code not in SUCCESSES}


def _rp_id() -> str:
    rp = service.relying_party()
    return rp.id if rp else ""


def init_app(app: Flask) -> None:
    # lazy: the pages load with the app, not with the package's models
    from idp.passkeys.views import bp

    app.register_blueprint(bp)
    methods.register(PASSKEY_METHOD)

    @app.context_processor
    def _passkeys() -> dict:
        # The account page's "Bảo mật" section and the sign-in page's passkey button.
        return {
            "passkeys_of": _account_passkeys,
            "passkeys_available": service.available,
            "passkey_sign_in_available": service.sign_in_available,
            "passkey_notice": _notice,
            "passkey_rp_id": _rp_id,
        }
