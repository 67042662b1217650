"""Who reaches the console: signed in, an administrator, at the stronger level."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from helpers.admin import console_sign_in, grant_unit, make_admin
from helpers.pages import sign_in
from helpers.people import EMAIL, PASSWORD


def _denials(app) -> list[tuple[str, str | None]]:
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.actor, AuditEvent.subject).where(
                AuditEvent.action == "admin.denied"
            )
        )
        return [tuple(r) for r in rows]


def test_signed_out_is_sent_to_sign_in(client):
    answer = client.get("/admin/")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/admin/"]


def test_plain_user_gets_403_and_an_audit_event(app, client, make_user):
    sub = make_user(EMAIL, password=PASSWORD)
    assert sign_in(client).status_code == 302
    answer = client.get("/admin/")
    assert answer.status_code == 403
    assert "Cache-Control" in answer.headers
    assert _denials(app) == [(sub, "/admin/")]


def test_admin_at_password_level_is_asked_for_a_second_factor(app, client, make_user):
    make_user("quan.tri@haugiang.gov.vn", password=PASSWORD, roles=["admin"])
    from helpers.factors import enrol

    enrol(app, "quan.tri@haugiang.gov.vn")
    # The password alone: the factor page is where sign-in goes on.
    first = sign_in(client, "quan.tri@haugiang.gov.vn", PASSWORD)
    assert urlsplit(first.headers["Location"]).path == "/login/factor"
    assert client.get("/admin/").status_code == 302


def test_super_admin_sees_the_console(app, client, make_user):
    make_admin(app, make_user, client)
    page = client.get("/admin/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "quản trị toàn tỉnh" in html
    assert page.headers["Cache-Control"] == "no-store"


def test_unit_admin_sees_their_units(app, client, make_user, make_unit):
    make_unit("HG", kind="province")
    make_unit("HG.VT", name="Thành phố Vị Thanh", kind="district", parent="HG")
    make_user("it.vithanh@haugiang.gov.vn", password=PASSWORD, unit="HG.VT")
    grant_unit(app, "it.vithanh@haugiang.gov.vn", "HG.VT")
    console_sign_in(app, client, "it.vithanh@haugiang.gov.vn")
    html = client.get("/admin/").get_data(as_text=True)
    assert "Thành phố Vị Thanh" in html
    assert "quản trị đơn vị" in html


def test_unit_admin_needs_the_second_factor_too(app, client, make_user, make_unit):
    make_unit("HG.VT", kind="district")
    make_user("it.vithanh@haugiang.gov.vn", password=PASSWORD, unit="HG.VT")
    grant_unit(app, "it.vithanh@haugiang.gov.vn", "HG.VT")
    assert sign_in(client, "it.vithanh@haugiang.gov.vn", PASSWORD).status_code == 302
    answer = client.get("/admin/")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["step_up"] == ["1"]
