"""The console's audit log: filters, keyset pages, the CSV export, and the unit
administrator's narrower view."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from helpers.admin import console_sign_in, grant_unit, make_admin
from helpers.console import events
from helpers.people import EMAIL, PASSWORD


def _record(app, action: str, *, subject: str | None = None, at: datetime | None = None, **kw):
    from idp import audit
    from idp.extensions import db

    with app.app_context():
        event = audit.record(action, actor=kw.pop("actor", "cli:test"), subject=subject, **kw)
        if at is not None:
            event.at = at
        db.session.commit()


def _actions(html: str) -> list[str]:
    import re

    return re.findall(r"<td><code>([^<]+)</code></td>", html)


@pytest.fixture
def tree(make_unit):
    make_unit("HG", kind="province")
    make_unit("HG.VT", kind="district", parent="HG")
    make_unit("HG.NB", kind="district", parent="HG")


def test_filters(app, client, make_user):
    make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    _record(app, "login", subject=sub, ip="10.1.2.3")
    _record(app, "login", subject=sub, outcome="failure", ip="10.9.9.9")
    _record(app, "client.update", subject="webmail", actor="cli:ops")
    _record(app, "token.replay", subject=sub, actor="webmail")
    page = lambda q: _actions(client.get("/admin/audit?" + q).get_data(as_text=True))  # noqa: E731
    assert page(f"subject={sub}") == ["token.replay", "login", "login"]
    assert page(f"subject={EMAIL}") == ["token.replay", "login", "login"]
    assert page("client=webmail") == ["token.replay", "client.update"]
    assert page("action=login&outcome=failure") == ["login"]
    assert page("ip=10.1.") == ["login"]
    assert page("actor=cli:ops") == ["client.update"]


def test_time_range_in_the_province_zone(app, client, make_user):
    make_admin(app, make_user, client)
    # 06/12/2026 08:30 in Hồ Chí Minh is 01:30 UTC.
    _record(app, "early", at=datetime(2026, 12, 6, 0, 0, tzinfo=UTC))
    _record(app, "inside", at=datetime(2026, 12, 6, 1, 30, tzinfo=UTC))
    _record(app, "late", at=datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
    html = client.get("/admin/audit?from=06/12/2026 08:00&to=06/12/2026 08:30").get_data(
        as_text=True
    )
    assert _actions(html) == ["inside"]
    assert "06/12/2026 08:30" in html
    assert _actions(client.get("/admin/audit?from=07/12/2026").get_data(as_text=True)) == []


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-12-06",
        "from=31/02/2026 10:00",
        "from=06/12/2026 10:00&to=05/12/2026 10:00",
        "before=abc",
        "action=a b",
        "outcome=" + "x" * 100,
        "ip=not-an-ip",
        "subject=" + "x" * 400,
    ],
)
def test_bad_filters_are_400(app, client, make_user, query):
    make_admin(app, make_user, client)
    assert client.get("/admin/audit?" + query).status_code == 400
    if not query.startswith("before="):  # the export has no pages
        assert client.get("/admin/audit.csv?" + query).status_code == 400


def test_keyset_pages_newest_first(app, client, make_user):
    make_admin(app, make_user, client)
    for n in range(60):
        _record(app, f"e{n:02}")
    first = client.get("/admin/audit?action=").get_data(as_text=True)
    shown = _actions(first)
    assert len(shown) == 50
    import re

    before = re.search(r'id="audit-next" href="[^"]*before=(\d+)', first).group(1)
    second = _actions(client.get(f"/admin/audit?before={before}").get_data(as_text=True))
    assert not set(shown) & set(second)
    assert "e00" in second and "e59" in shown


def test_csv_export_of_the_filtered_result(app, client, make_user):
    make_admin(app, make_user, client)
    for n in range(1205):
        _record(app, "bulk", subject=f"s{n}")
    _record(app, "other")
    answer = client.get("/admin/audit.csv?action=bulk")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    body = answer.get_data()
    # A UTF-8 byte-order mark first, so Excel reads the diacritics right.
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["id", "at", "time", "action"]
    assert len(rows) == 1206
    assert {r[3] for r in rows[1:]} == {"bulk"}
    ids = [int(r[0]) for r in rows[1:]]
    assert ids == sorted(ids, reverse=True)


def test_person_page_links_to_their_history(app, client, make_user):
    make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    html = client.get(f"/admin/people/{sub}").get_data(as_text=True)
    assert f'href="/admin/audit?subject={sub}"' in html


def test_unit_admin_sees_only_events_about_their_people(app, client, make_user, tree):
    mine = make_user("p@haugiang.gov.vn", unit="HG.VT")
    theirs = make_user("q@haugiang.gov.vn", unit="HG.NB")
    _record(app, "about.mine", subject=mine)
    _record(app, "about.theirs", subject=theirs)
    _record(app, "client.update", subject="webmail")
    admin = make_user("it@haugiang.gov.vn", password=PASSWORD, unit="HG.VT")
    grant_unit(app, "it@haugiang.gov.vn", "HG.VT")
    console_sign_in(app, client, "it@haugiang.gov.vn")
    shown = _actions(client.get("/admin/audit").get_data(as_text=True))
    assert "about.mine" in shown
    assert "about.theirs" not in shown and "client.update" not in shown
    csv_text = client.get("/admin/audit.csv").get_data(as_text=True)
    assert "about.mine" in csv_text and "about.theirs" not in csv_text
    # Naming a person outside their units: refused and recorded.
    assert client.get(f"/admin/audit?subject={theirs}").status_code == 403
    assert client.get("/admin/audit.csv?subject=q@haugiang.gov.vn").status_code == 403
    assert events(app, "admin.denied")[-1]["actor"] == admin


def test_csv_times_and_detail(app, client, make_user):
    import json
    import re

    make_admin(app, make_user, client)
    from idp import audit
    from idp.extensions import db

    with app.app_context():
        audit.record(
            "csv.test", actor="cli:root", subject="Đặng Thị Đào", detail={"đơn vị": "VT", "n": 1}
        )
        db.session.commit()
    text = client.get("/admin/audit.csv?action=csv.test").get_data().decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))
    cells = dict(zip(header, row, strict=True))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", cells["at"])
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", cells["time"])
    day, clock = cells["time"].split()
    assert cells["at"][:10] == "-".join(reversed(day.split("/"))) and cells["at"][11:19] == clock
    assert json.loads(cells["detail"]) == {"đơn vị": "VT", "n": 1}
    assert cells["subject"] == "Đặng Thị Đào"


def test_a_bad_filter_page_names_the_field_and_keeps_the_console(app, client, make_user):
    make_admin(app, make_user, client)
    answer = client.get("/admin/audit?from=2026-12-06")
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "Ô “Từ” không hợp lệ" in html and "dd/mm/yyyy hh:mm" in html
    assert 'class="admin-nav"' in html and 'id="error-back" href="/admin/"' in html
    to_before_from = client.get("/admin/audit?from=06/12/2026&to=05/12/2026")
    assert "phải sau" in to_before_from.get_data(as_text=True)
    # Elsewhere in the console too: an unknown person is a 404 inside the console's frame.
    missing = client.get("/admin/people/no-such-sub")
    assert missing.status_code == 404 and 'class="admin-nav"' in missing.get_data(as_text=True)


def test_a_non_administrator_gets_the_plain_error_page(app, client, make_user):
    from helpers.pages import sign_in

    make_user(EMAIL)
    assert sign_in(client).status_code == 302
    answer = client.get("/admin/audit")
    assert answer.status_code == 403
    assert 'class="admin-nav"' not in answer.get_data(as_text=True)
