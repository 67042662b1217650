"""Two first consents of one person to one client at the same moment (two tabs, a double
click) collided on the unique (user, client) row: the second writer's INSERT failed at
commit and the person got a 500. Now the row is inserted if missing and then locked, so
both consents land and neither loses the other's scopes."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from helpers.clients import make_client


def test_two_first_consents_at_once_both_land(app, make_user):
    from idp.directory.models import User
    from idp.extensions import db, utcnow
    from idp.oidc import store
    from idp.oidc.token_models import Consent

    make_user()
    make_client(app, "reporting", first_party=False)
    with app.app_context():
        user_id = db.session.execute(sa.select(User.id)).scalar_one()

    first_written = threading.Event()
    errors: list[BaseException] = []

    def consent(scopes: list[str], hold: float, signal: threading.Event | None) -> None:
        try:
            with app.app_context():
                store.save_consent(user_id, "reporting", scopes, [], utcnow())
                db.session.flush()
                if signal is not None:
                    signal.set()
                time.sleep(hold)  # the first transaction stays open while the second writes
                db.session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    first = threading.Thread(target=consent, args=(["openid", "profile"], 0.5, first_written))
    first.start()
    assert first_written.wait(10)
    second = threading.Thread(target=consent, args=(["openid", "email"], 0, None))
    second.start()
    first.join(20)
    second.join(20)

    assert errors == []
    with app.app_context():
        [row] = db.session.execute(sa.select(Consent)).scalars().all()
        assert set(row.scope.split()) == {"openid", "profile", "email"}
