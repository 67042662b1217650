"""The passkey service with real WebAuthn structures (helpers.authenticator), on SQLite and
PostgreSQL: adding passkeys, using them as a second factor and alone, amr values, the
sign counter, names, removal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers.authenticator import Authenticator

from idp.directory.store import find_user_by_sub
from idp.extensions import transaction, utcnow
from idp.passkeys import service
from idp.passkeys.service import Ceremony, PasskeyError


@pytest.fixture
def person(app, make_user):
    return make_user()


def _user(sub):
    return find_user_by_sub(sub)


def _add(app, sub, authenticator, name=None):
    with app.test_request_context(), transaction():
        user = _user(sub)
        options = service.registration_options(user)
        answer = authenticator.create(options.public_key)
        passkey = service.register(user, options.ceremony, answer, name=name, default_name="Máy")
        return passkey.id


def test_registration_options_follow_the_issuer_and_exclude_existing_passkeys(app, person):
    first = Authenticator()
    _add(app, person, first)
    with app.test_request_context():
        options = service.registration_options(_user(person)).public_key
    assert options["rp"] == {"id": "idp.test", "name": app.config["PASSKEY_RP_NAME"]}
    assert options["user"]["name"] == "nguyen.van.an@haugiang.gov.vn"
    # The user handle is the opaque sub, not the address.
    assert options["user"]["id"] != options["user"]["name"]
    assert [c["id"] for c in options["excludeCredentials"]] == [first.only().id]
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["attestation"] == "none"


def test_several_passkeys_per_person_each_named(app, person):
    phone, key = Authenticator(backup_eligible=True), Authenticator()
    _add(app, person, phone, "Điện thoại")
    _add(app, person, key)
    with app.test_request_context():
        passkeys = service.passkeys_of(_user(person))
        assert [p.name for p in passkeys] == ["Điện thoại", "Máy"]
        assert [p.backup_eligible for p in passkeys] == [True, False]
        assert passkeys[0].transports == ["internal"]
        assert passkeys[0].aaguid == "00112233-4455-6677-8899-aabbccddeeff"


def test_second_factor_lists_only_the_persons_passkeys_and_returns_amr(app, person, make_user):
    other = make_user("tran.thi.binh@haugiang.gov.vn")
    mine, theirs = Authenticator(), Authenticator()
    _add(app, person, mine)
    _add(app, other, theirs)
    with app.test_request_context(), transaction():
        options = service.authentication_options(_user(person))
        assert [c["id"] for c in options.public_key["allowCredentials"]] == [mine.only().id]
        assert options.ceremony.kind == service.FACTOR
        result = service.authenticate(options.ceremony, mine.get(options.public_key))
        assert result.user.sub == person
        assert result.amr == ["hwk", "user"]
        assert result.passkey.sign_count == 1 and result.passkey.last_used_at is not None


def test_passkey_alone_lists_nothing_requires_verification_and_finds_the_owner(app, person):
    synced = Authenticator(backup_eligible=True, counter=False)
    _add(app, person, synced)
    with app.test_request_context(), transaction():
        options = service.authentication_options(None)
        assert options.public_key.get("allowCredentials", []) == []
        assert options.public_key["userVerification"] == "required"
        result = service.authenticate(options.ceremony, synced.get(options.public_key))
        assert result.user.sub == person
        # Synced (backup eligible): a software-held key; verified: "user".
        assert result.amr == ["swk", "user"]


def test_without_user_verification_the_amr_has_no_user(app, person):
    key = Authenticator(user_verification=False)
    _add(app, person, key)
    with app.test_request_context(), transaction():
        options = service.authentication_options(_user(person))
        result = service.authenticate(options.ceremony, key.get(options.public_key))
        assert result.amr == ["hwk"] and not result.user_verified


def test_passkey_alone_refuses_an_authenticator_that_did_not_verify_the_person(app, person):
    key = Authenticator(user_verification=False)
    _add(app, person, key)
    with app.test_request_context(), transaction():
        options = service.authentication_options(None)
        with pytest.raises(PasskeyError) as refused:
            service.authenticate(options.ceremony, key.get(options.public_key))
        assert refused.value.reason == "invalid"


@pytest.mark.parametrize("app_config", [{"PASSKEY_USER_VERIFICATION": "required"}])
def test_required_user_verification_refuses_a_passkey_added_without_it(app, person):
    with app.test_request_context(), transaction():
        options = service.registration_options(_user(person))
        assert options.public_key["authenticatorSelection"]["userVerification"] == "required"
        answer = Authenticator(user_verification=False).create(options.public_key)
        with pytest.raises(PasskeyError, match="invalid"):
            service.register(_user(person), options.ceremony, answer)


def test_an_expired_ceremony_is_refused(app, person):
    key = Authenticator()
    _add(app, person, key)
    with app.test_request_context(), transaction():
        options = service.authentication_options(_user(person))
        answer = key.get(options.public_key)
        later = utcnow() + timedelta(seconds=app.config["PASSKEY_CEREMONY_SECONDS"] + 1)
        with pytest.raises(PasskeyError, match="expired"):
            service.authenticate(options.ceremony, answer, now=later)


def test_a_ceremony_of_another_kind_is_refused(app, person):
    key = Authenticator()
    _add(app, person, key)
    with app.test_request_context(), transaction():
        options = service.authentication_options(_user(person))
        answer = key.get(options.public_key)
        with pytest.raises(PasskeyError, match="expired"):
            service.register(_user(person), options.ceremony, answer)


def test_ceremony_state_survives_the_session_and_junk_is_none(app):
    ceremony = Ceremony("sign_in", b"\x01" * 32, utcnow(), None, True)
    assert Ceremony.from_state(ceremony.to_state()) == ceremony
    for junk in (
        None,
        [],
        {},
        {"kind": "x"},
        {**ceremony.to_state(), "user_id": "1"},
        {**ceremony.to_state(), "challenge": 5},
        {**ceremony.to_state(), "expires_at": "x"},
    ):
        assert Ceremony.from_state(junk) is None


def test_counterless_authenticators_are_not_taken_for_clones(app, person):
    synced = Authenticator(backup_eligible=True, counter=False)
    _add(app, person, synced)
    for _ in range(2):
        with app.test_request_context(), transaction():
            options = service.authentication_options(None)
            service.authenticate(options.ceremony, synced.get(options.public_key))


def test_rename_and_remove(app, person):
    passkey_id = _add(app, person, Authenticator())
    with app.test_request_context(), transaction():
        assert service.rename(_user(person), passkey_id, "  Khóa   USB  ").name == "Khóa USB"
    for bad in ("", "   ", "x" * 65, "a\x00b"):
        with (
            app.test_request_context(),
            transaction(),
            pytest.raises(PasskeyError, match="bad_name"),
        ):
            service.rename(_user(person), passkey_id, bad)
    with app.test_request_context(), transaction():
        service.remove(_user(person), passkey_id)
    with app.test_request_context():
        assert service.passkeys_of(_user(person)) == []
        assert not service.has_passkeys(_user(person))
        with pytest.raises(PasskeyError, match="no_passkeys"):
            service.authentication_options(_user(person))


@pytest.mark.parametrize("app_config", [{"PASSKEY_MAX_PER_USER": 2}])
def test_a_person_has_at_most_the_configured_number(app, person):
    _add(app, person, Authenticator())
    _add(app, person, Authenticator())
    with app.test_request_context(), pytest.raises(PasskeyError, match="too_many"):
        service.registration_options(_user(person))


@pytest.mark.parametrize("app_config", [{"ISSUER": "http://127.0.0.1:5000"}], ids=["ip-issuer"])
def test_an_issuer_on_an_ip_address_offers_no_passkeys(app, person):
    with app.test_request_context():
        assert not service.available() and not service.sign_in_available()
        with pytest.raises(PasskeyError, match="unavailable"):
            service.authentication_options(None)


def test_expired_challenges_are_cleaned_up(app, person):
    _add(app, person, Authenticator())
    with app.test_request_context(), transaction():
        later = utcnow() + timedelta(seconds=app.config["PASSKEY_CEREMONY_SECONDS"] + 1)
        assert service.remove_expired_challenges(later) == 1


def test_the_factor_step_through_the_browser_session(app, person, make_user):
    """What the second-factor step will call: the ceremony waits in the page session."""
    from idp.passkeys import ceremonies

    other = make_user("tran.thi.binh@haugiang.gov.vn")
    key = Authenticator()
    _add(app, person, key)
    _add(app, other, Authenticator())
    with app.test_request_context(), transaction():
        options = ceremonies.begin_authentication(_user(person))
        result = ceremonies.finish_authentication(key.get(options), user=_user(person))
        assert result.user.sub == person and result.amr == ["hwk", "user"]
        # Taken: the same browser cannot answer it again.
        with pytest.raises(PasskeyError, match="expired"):
            ceremonies.finish_authentication(key.get(options), user=_user(person))
        # A ceremony begun for one person is not finished for another.
        options = ceremonies.begin_authentication(_user(person))
        with pytest.raises(PasskeyError, match="expired"):
            ceremonies.finish_authentication(key.get(options), user=_user(other))


def test_a_person_with_only_passkeys_has_a_second_factor_reaching_level_three(app, person):
    from idp.factors import methods

    with app.test_request_context():
        assert not methods.has_second_factor(_user(person))
        assert methods.reachable_rank(_user(person)) == 1
    _add(app, person, Authenticator())
    with app.test_request_context():
        user = _user(person)
        assert methods.has_second_factor(user)
        assert methods.reachable_rank(user) == 3
        assert [m.name for m in methods.available(user)] == ["passkey"]
        # For the phishing-resistant level the passkey is offered, for level two too.
        assert [m.name for m in methods.offered(user, 3)] == ["passkey"]


def test_the_phishing_resistant_level_requires_user_verification(app, person):
    key = Authenticator(user_verification=False)
    _add(app, person, key)
    with app.test_request_context(), transaction():
        options = service.authentication_options(_user(person), require_user_verification=True)
        assert options.public_key["userVerification"] == "required"
        with pytest.raises(PasskeyError):
            service.authenticate(options.ceremony, key.get(options.public_key))
    with app.test_request_context(), transaction():
        # Without it, a passkey is a second factor (hwk) but not `user`: urn:hg:loa:2.
        options = service.authentication_options(_user(person))
        result = service.authenticate(options.ceremony, key.get(options.public_key))
        assert result.amr == ["hwk"]
