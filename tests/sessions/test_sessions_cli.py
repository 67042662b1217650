"""`idp sessions list|revoke`, `idp logout-deliveries list` and `idp worker`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from helpers.pages import sign_out
from helpers.people import EMAIL
from helpers.session_flow import sign_in_to, signed_in_browser

ROOT = Path(__file__).resolve().parents[2]


def test_sessions_list(app, runner, make_user, make_rp):
    make_user()
    make_rp("webmail")
    browser = signed_in_browser(app)
    sign_in_to(browser, "webmail")
    signed_in_browser(app)
    result = runner.invoke(args=["sessions", "list", "--user", EMAIL.upper()])
    assert result.exit_code == 0, result.output
    assert result.output.count("applications:") == 2
    assert "applications: webmail" in result.output
    data = json.loads(runner.invoke(args=["sessions", "list", "--user", EMAIL, "--json"]).output)
    assert data["email"] == EMAIL and len(data["sessions"]) == 2
    assert sorted(s["clients"] for s in data["sessions"]) == [[], ["webmail"]]
    assert {s["ip"] for s in data["sessions"]} == {"127.0.0.1"}


def test_sessions_revoke_signs_out_everywhere_and_tells_the_apps(
    app, runner, make_user, make_rp, receiver
):
    make_user()
    make_rp("webmail", backchannel_logout_uri=receiver.url())
    one, two = signed_in_browser(app), signed_in_browser(app)
    sign_in_to(one, "webmail")
    sign_in_to(two, "webmail")
    result = runner.invoke(args=["sessions", "revoke", "--user", EMAIL])
    assert result.exit_code == 0, result.output
    assert "2 session(s) ended" in result.output
    assert "2 back-channel logout notice(s): 2 delivered, 0 left to the worker" in result.output
    assert len(receiver.wait_for(2)) == 2
    assert one.get("/account/").status_code == 302 and two.get("/account/").status_code == 302
    listed = runner.invoke(args=["sessions", "list", "--user", EMAIL])
    assert "no live session" in listed.output


def test_sessions_revoke_one_session(app, runner, make_user, make_rp):
    make_user()
    one, two = signed_in_browser(app), signed_in_browser(app)
    data = json.loads(runner.invoke(args=["sessions", "list", "--user", EMAIL, "--json"]).output)
    sid = data["sessions"][0]["sid"]
    result = runner.invoke(args=["sessions", "revoke", "--user", EMAIL, "--sid", sid, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sessions_ended"] == [sid]
    assert sorted([one.get("/account/").status_code, two.get("/account/").status_code]) == [
        200,
        302,
    ]
    again = runner.invoke(args=["sessions", "revoke", "--user", EMAIL, "--sid", sid])
    assert again.exit_code == 1 and "has no open session" in again.output


def test_unknown_person_is_a_one_line_error(runner):
    for args in (["sessions", "list"], ["sessions", "revoke"], ["logout-deliveries", "list"]):
        result = runner.invoke(args=[*args, "--user", "nobody@haugiang.gov.vn"])
        assert result.exit_code == 1
        assert result.output.strip().splitlines() == ["Error: no user 'nobody@haugiang.gov.vn'"]


def test_logout_deliveries_list(app, runner, make_user, make_rp, receiver):
    from helpers.receiver import LogoutReceiver

    make_user()
    down = LogoutReceiver(start=False)
    make_rp("webmail", backchannel_logout_uri=receiver.url())
    make_rp("portal", backchannel_logout_uri=down.url())
    browser = signed_in_browser(app)
    sign_in_to(browser, "webmail")
    sign_in_to(browser, "portal")
    result = runner.invoke(args=["sessions", "revoke", "--user", EMAIL])
    assert "1 delivered, 1 left to the worker" in result.output

    listed = runner.invoke(args=["logout-deliveries", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[0] == "pending: 1  delivered: 1  failed: 0  gave_up: 0"
    assert "cannot connect to 127.0.0.1" in listed.output
    pending = runner.invoke(args=["logout-deliveries", "list", "--status", "pending", "--json"])
    data = json.loads(pending.output)
    [row] = data["deliveries"]
    assert (row["client_id"], row["status"], row["attempts"]) == ("portal", "pending", 1)
    assert row["reason"] == "admin" and row["next_attempt_at"]
    assert data["counts"] == {"pending": 1, "delivered": 1}
    mine = runner.invoke(args=["logout-deliveries", "list", "--user", EMAIL, "--client", "webmail"])
    assert "webmail" in mine.output and "portal" not in mine.output
    bad = runner.invoke(args=["logout-deliveries", "list", "--status", "lost"])
    assert bad.exit_code == 2


def test_worker_once(app, runner, make_user, make_rp, receiver):
    make_user()
    make_rp("webmail", backchannel_logout_uri=receiver.url())
    browser = signed_in_browser(app)
    sign_in_to(browser, "webmail")
    sign_out(browser)
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 attempts: 1 delivered"
    assert runner.invoke(args=["worker", "--once"]).output.strip() == "0 attempts: nothing due"


def test_worker_process_delivers_and_stops_on_sigterm(
    app, database_url, make_user, make_rp, receiver
):
    """`idp worker` as it runs in production: a process of its own, stopped by a signal."""
    make_user()
    make_rp("webmail", backchannel_logout_uri=receiver.url())
    env = {
        **os.environ,
        "IDP_DATABASE_URL": database_url,
        "IDP_ISSUER": app.config["ISSUER"],
        "IDP_SECRET_KEY": app.config["SECRET_KEY"],
        "IDP_OUTBOUND_ALLOW_PRIVATE_TARGETS": "true",
        "IDP_WORKER_POLL_SECONDS": "0.1",
        "IDP_LOG_FORMAT": "text",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "idp"), "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        browser = signed_in_browser(app)
        sign_in_to(browser, "webmail")
        sign_out(browser)
        assert len(receiver.wait_for(1, timeout=30)) == 1
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "worker stopped after 1 attempts (1 delivered)" in err
