"""Every address of a person signs in, and `idp directory rename-domain` moves primary
addresses to a new mail domain: sub kept, old address an alias, the email claim follows."""

from __future__ import annotations

import json

import sqlalchemy as sa
from helpers.cli import one_line_error
from helpers.oidc_flow import query_of
from helpers.people import EMAIL, PASSWORD

from idp.audit import AuditEvent
from idp.directory.models import User
from idp.extensions import db


def person(app, sub: str) -> tuple[str, list[str]]:
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.sub == sub)).one()
        return user.email, sorted(user.aliases)


def test_any_address_signs_in_whatever_its_case(app, auth, make_user):
    make_user("an.nv@stc.haugiang.gov.vn", aliases=["nvan@haugiang.gov.vn", "An.Nguyen@hg.vn"])
    for address in ("an.nv@stc.haugiang.gov.vn", "NVAN@haugiang.gov.vn", "an.nguyen@HG.vn"):
        assert auth.login(email=address, password=PASSWORD).status_code == 302, address
        auth.logout()
    assert auth.login(email="an.nv@haugiang.gov.vn", password=PASSWORD).status_code == 401


def test_signing_in_with_an_alias_gives_the_primary_address_as_email_claim(app, rp, make_user):
    from idp.directory.store import find_user_by_address, set_addresses

    with app.app_context():
        user = find_user_by_address(EMAIL)
        set_addresses(user, EMAIL, ["an.alias@haugiang.gov.vn"])
        db.session.commit()
    body = tokens_signed_in_as(rp, "an.alias@haugiang.gov.vn")
    assert rp.userinfo(body["access_token"]).get_json()["email"] == EMAIL


def tokens_signed_in_as(rp, address: str) -> dict:
    """The code flow of the rp fixture's client, signing in with `address`."""
    response = rp.sign_in_through(rp.authorize(scope="openid email", nonce="n-1"), email=address)
    if response.status_code == 200:
        response = rp.consent(response)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return rp.exchange_code(query_of(response.headers["Location"])["code"])


def tree(make_unit) -> None:
    make_unit("HG", "Tỉnh Hậu Giang", kind="province")
    make_unit("STC", "Sở Tài chính", parent="HG")
    make_unit("STC-VP", "Văn phòng Sở Tài chính", kind="sub_unit", parent="STC")
    make_unit("SYT", "Sở Y tế", parent="HG")


def test_rename_domain_for_a_subtree(app, rp, runner, make_unit, make_user):
    tree(make_unit)
    with app.app_context():
        from idp.directory.store import find_unit, find_user_by_address, set_addresses

        user = find_user_by_address(EMAIL)
        set_addresses(user, "an@stc.haugiang.gov.vn", [])
        user.unit_id = find_unit("STC").id
        sub = user.sub
        db.session.commit()
    vp = make_user("Binh.LV@STC.haugiang.gov.vn", unit="STC-VP")
    clash = make_user("chi@stc.haugiang.gov.vn", unit="STC-VP")
    taken_by = make_user("chi@haugiang.gov.vn", unit="SYT")
    outside = make_user("dung@stc.haugiang.gov.vn", unit="SYT")
    elsewhere = make_user("em@tc.haugiang.gov.vn", unit="STC")
    body = tokens_signed_in_as(rp, "an@stc.haugiang.gov.vn")
    assert rp.userinfo(body["access_token"]).get_json()["email"] == "an@stc.haugiang.gov.vn"

    dry = runner.invoke(
        args=[
            "directory",
            "rename-domain",
            "stc.haugiang.gov.vn",
            "haugiang.gov.vn",
            "--unit",
            "STC",
            "--dry-run",
            "--json",
        ]
    )
    assert dry.exit_code == 3, dry.output
    planned = json.loads(dry.stdout)
    assert len(planned["changed"]) == 2 and len(planned["refused"]) == 1
    assert person(app, sub) == ("an@stc.haugiang.gov.vn", [])

    result = runner.invoke(
        args=[
            "directory",
            "rename-domain",
            "STC.haugiang.gov.vn",
            "@haugiang.gov.vn",
            "--unit",
            "STC",
        ]
    )
    assert result.exit_code == 3, result.output
    assert (
        "chi@stc.haugiang.gov.vn: chi@haugiang.gov.vn the new address belongs to someone else"
        in result.stdout
    )
    assert person(app, sub) == ("an@haugiang.gov.vn", ["an@stc.haugiang.gov.vn"])
    assert person(app, vp) == ("Binh.LV@haugiang.gov.vn", ["Binh.LV@STC.haugiang.gov.vn"])
    assert person(app, clash) == ("chi@stc.haugiang.gov.vn", [])
    assert person(app, taken_by) == ("chi@haugiang.gov.vn", [])
    assert person(app, outside) == ("dung@stc.haugiang.gov.vn", [])
    assert person(app, elsewhere) == ("em@tc.haugiang.gov.vn", [])

    # The same access token, the same sub: the email claim is the new address.
    info = rp.userinfo(body["access_token"]).get_json()
    assert (info["sub"], info["email"]) == (sub, "an@haugiang.gov.vn")
    with app.app_context():
        [event] = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "directory.rename_domain")
        ).all()
        assert event.outcome == "partial" and event.actor.startswith("cli:")
        assert (event.detail["changed"], event.detail["refused"]) == (2, 1)
        assert event.detail["refused_subs"] == [clash]


def test_both_addresses_sign_in_after_a_rename(app, auth, runner, make_user):
    sub = make_user("an@stc.haugiang.gov.vn")
    assert (
        runner.invoke(
            args=["directory", "rename-domain", "stc.haugiang.gov.vn", "haugiang.gov.vn"]
        ).exit_code
        == 0
    )
    for address in ("an@haugiang.gov.vn", "an@stc.haugiang.gov.vn"):
        assert auth.login(email=address, password=PASSWORD).status_code == 302
        auth.logout()
    assert person(app, sub)[0] == "an@haugiang.gov.vn"


def test_an_alias_in_the_new_domain_becomes_the_primary(app, runner, make_user):
    sub = make_user("an@stc.haugiang.gov.vn", aliases=["AN@haugiang.gov.vn"])
    result = runner.invoke(
        args=["directory", "rename-domain", "stc.haugiang.gov.vn", "haugiang.gov.vn"]
    )
    assert result.exit_code == 0, result.output
    email, aliases = person(app, sub)
    assert email.lower() == "an@haugiang.gov.vn" and aliases == ["an@stc.haugiang.gov.vn"]


def test_bad_arguments_are_one_line_errors(runner, make_unit):
    assert "bad mail domain" in one_line_error(
        runner.invoke(args=["directory", "rename-domain", "not a domain", "haugiang.gov.vn"])
    )
    assert "the same" in one_line_error(
        runner.invoke(args=["directory", "rename-domain", "HG.vn", "hg.VN"])
    )
    assert "unknown unit NOPE" in one_line_error(
        runner.invoke(args=["directory", "rename-domain", "a.vn", "b.vn", "--unit", "NOPE"])
    )
