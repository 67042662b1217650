from __future__ import annotations

import json
from datetime import timedelta

import pytest

from idp.extensions import db, utcnow
from idp.keys import ring
from idp.keys.crypto import KeyDecryptionError
from idp.keys.models import KEY_CURRENT, KEY_NEXT, KEY_RETIRED, SigningKey


def _states(alg):
    return [(k.kid, k.state) for k in ring.list_keys() if k.alg == alg]


def test_first_use_creates_a_current_and_a_next_key_per_algorithm(app):
    with app.app_context():
        assert ring.ensure_keys() is True
        db.session.commit()
        assert ring.ensure_keys() is False
        for alg in ("RS256", "ES256"):
            assert sorted(s for _, s in _states(alg)) == [KEY_CURRENT, KEY_NEXT]


def test_jwks_publishes_every_live_key_without_private_parts(app, client):
    with app.app_context():
        ring.ensure_keys()
        db.session.commit()
        kids = {k.kid for k in ring.list_keys()}
    response = client.get("/jwks")
    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    assert "max-age=" in response.headers["Cache-Control"]
    keys = response.get_json(force=True)["keys"]
    assert {k["kid"] for k in keys} == kids
    for key in keys:
        assert key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_signed_token_verifies_and_tampering_is_caught(app, alg):
    with app.app_context():
        token = ring.sign_jwt({"sub": "abc", "n": 1}, alg=alg, typ="at+jwt")
        header, claims = ring.verify_jwt(token, typ="at+jwt")
        assert header["alg"] == alg and claims == {"sub": "abc", "n": 1}
        head, body, sig = token.split(".")
        forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
        for bad in (f"{head}.{forged_body}.{sig}", "a.b.c", "", "x" * 20000, f"{head}.{body}."):
            with pytest.raises(ring.InvalidJWT):
                ring.verify_jwt(bad)
        with pytest.raises(ring.InvalidJWT):
            ring.verify_jwt(token, typ="logout+jwt")


def test_rotation_waits_for_publication_then_keeps_old_key_published(app):
    with app.app_context():
        ring.ensure_keys()
        db.session.commit()
        before = ring.sign_jwt({"sub": "x"})
        with pytest.raises(ring.KeyRingError, match="published for"):
            ring.rotate("RS256")
        later = utcnow() + timedelta(seconds=app.config["KEY_PUBLISH_SECONDS"] + 1)
        result = ring.rotate("RS256", now=later)
        db.session.commit()
        states = dict(_states("RS256"))
        assert states[result.retired] == KEY_RETIRED
        assert states[result.current] == KEY_CURRENT
        assert states[result.next] == KEY_NEXT
        # A token signed before the rotation still verifies: the retired key is published.
        ring.verify_jwt(before)
        after = ring.sign_jwt({"sub": "x"})
        assert json.loads(ring.jwks_document())["keys"]
        assert ring.verify_jwt(after)[0]["kid"] == result.current
        # Retired keys leave the JWKS only once every token they signed has expired.
        assert ring.remove_expired(now=later) == 0
        gone = later + timedelta(seconds=app.config["KEY_RETIRE_SECONDS"] + 1)
        assert ring.remove_expired(now=gone) == 1
        db.session.commit()
        assert result.retired not in dict(_states("RS256"))
        with pytest.raises(ring.InvalidJWT):
            ring.verify_jwt(before)


def test_private_keys_are_encrypted_at_rest(app):
    with app.app_context():
        ring.ensure_keys()
        db.session.commit()
        rows = db.session.query(SigningKey).all()
        assert rows
        for row in rows:
            assert "PRIVATE KEY" not in row.private_encrypted
            assert row.private_encrypted.startswith("v1:")
    app.config["KEY_ENCRYPTION_KEY"] = "another key entirely"
    with app.app_context():
        ring.invalidate_cache()
        with pytest.raises(KeyDecryptionError):
            ring.sign_jwt({"sub": "x"})


def test_keys_cli_list_rotate_and_refusal(app, runner):
    listed = runner.invoke(args=["keys", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert {r["state"] for r in rows} == {"current", "next"}
    refused = runner.invoke(args=["keys", "rotate", "--alg", "ES256"])
    assert refused.exit_code != 0
    assert "published for" in refused.output
    forced = runner.invoke(args=["keys", "rotate", "--alg", "ES256", "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    result = json.loads(forced.output)[0]
    assert result["alg"] == "ES256" and result["retired"]
    not_due = runner.invoke(args=["keys", "rotate", "--if-due"])
    assert not_due.exit_code == 0 and "no rotation due" in not_due.output
    bad = runner.invoke(args=["keys", "rotate", "--alg", "HS256"])
    assert bad.exit_code != 0
