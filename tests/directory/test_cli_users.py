"""`idp users ...`: create, list, show, disable, enable, set-password, and their errors."""

from __future__ import annotations

import json

import pytest
from helpers.cli import one_line_error

from idp.audit import AuditEvent
from idp.directory.models import User
from idp.directory.passwords import verify_password
from idp.directory.store import find_user_by_address
from idp.extensions import db

PASSWORD = "Sông-Hậu-chảy-mãi-2026"


@pytest.fixture
def units(make_unit):
    make_unit("HG", "Ủy ban nhân dân tỉnh Hậu Giang", kind="province")
    make_unit("STC", "Sở Tài chính", parent="HG")
    make_unit("STC-TTR", "Thanh tra Sở Tài chính", kind="sub_unit", parent="STC")
    make_unit("SNV", "Sở Nội vụ", parent="HG")


def test_create_with_password_from_stdin(app, runner, units):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "ntmthu.stc@haugiang.gov.vn",
            "--name",
            "Nguyễn Thị Minh Thư",
            "--alias",
            "minhthu@haugiang.gov.vn",
            "--unit",
            "STC",
            "--role",
            "admin",
            "--title",
            "Chuyên viên",
            "--phone",
            "+84 912 345 678",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Created ntmthu.stc@haugiang.gov.vn (sub ")
    with app.test_request_context():
        user = find_user_by_address("MINHTHU@haugiang.gov.vn")
        assert user.name == "Nguyễn Thị Minh Thư" and user.given_name == "Thư"
        assert user.unit.code == "STC" and user.roles == ["admin"] and user.is_admin
        assert verify_password(user.password_hash, PASSWORD)
        event = db.session.query(AuditEvent).one()
        assert (event.action, event.subject, event.actor.startswith("cli:")) == (
            "user.create",
            user.sub,
            True,
        )


def test_create_without_password_says_the_account_cannot_sign_in(app, runner):
    result = runner.invoke(
        args=["users", "create", "an@haugiang.gov.vn", "--name", "Lê An", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["email"] == "an@haugiang.gov.vn" and data["has_password"] is False
    assert data["family_name"] == "Lê" and data["given_name"] == "An"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["abc@", "--name", "Lê An"], None, "Error: bad e-mail address 'abc@'"),
        (
            ["an@haugiang.gov.vn", "--name", "Lê An", "--unit", "NOWHERE"],
            None,
            "Error: unknown unit NOWHERE",
        ),
        (
            ["AN.NV@HAUGIANG.GOV.VN", "--name", "Lê An"],
            None,
            "Error: address an.nv@haugiang.gov.vn already belongs to another user",
        ),
        (
            ["moi@haugiang.gov.vn", "--name", "Lê An", "--alias", "Nguyen.Van.An@haugiang.gov.vn"],
            None,
            "Error: address nguyen.van.an@haugiang.gov.vn already belongs to another user",
        ),
        (
            ["moi@haugiang.gov.vn", "--name", "Lê An", "--password-stdin"],
            "\n",
            "Error: no password given on standard input",
        ),
        (
            ["moi@haugiang.gov.vn", "--name", "Lê An", "--password-stdin"],
            "ngắn\n",
            "Error: password rejected: Mật khẩu phải có ít nhất 10 ký tự.",
        ),
        (
            ["moi@haugiang.gov.vn", "--name", "Lê An", "--password-stdin"],
            "moi@haugiang.gov.vn\n",
            "Error: password rejected: "
            "Mật khẩu không được trùng hoặc chứa địa chỉ thư điện tử của bạn.",
        ),
    ],
)
def test_create_errors_are_one_line_and_write_nothing(app, runner, make_user, args, stdin, message):
    make_user("nguyen.van.an@haugiang.gov.vn", aliases=["an.nv@haugiang.gov.vn"])
    result = runner.invoke(args=["users", "create", *args], input=stdin)
    assert one_line_error(result) == message
    with app.app_context():
        assert db.session.query(User).count() == 1
        assert db.session.query(AuditEvent).count() == 0


def test_list_filters_by_unit_subtree_and_status(app, runner, units, make_user):
    make_user("a@haugiang.gov.vn", unit="STC", given_name="A")
    make_user("b@haugiang.gov.vn", unit="STC-TTR", given_name="B", status="disabled")
    make_user("c@haugiang.gov.vn", unit="SNV", given_name="C", roles=["admin"])

    def emails(*args):
        result = runner.invoke(args=["users", "list", *args, "--json"])
        assert result.exit_code == 0, result.output
        return [u["email"] for u in json.loads(result.stdout)]

    assert emails() == ["a@haugiang.gov.vn", "b@haugiang.gov.vn", "c@haugiang.gov.vn"]
    assert emails("--unit", "STC") == ["a@haugiang.gov.vn"]
    assert emails("--unit", "STC", "--subtree") == ["a@haugiang.gov.vn", "b@haugiang.gov.vn"]
    assert emails("--unit", "HG", "--subtree", "--status", "active") == [
        "a@haugiang.gov.vn",
        "c@haugiang.gov.vn",
    ]
    text = runner.invoke(args=["users", "list", "--unit", "SNV"])
    assert text.exit_code == 0
    assert (
        "c@haugiang.gov.vn" in text.stdout
        and "Nguyễn Văn C" in text.stdout
        and "admin" in text.stdout
    )
    assert text.stderr.strip() == "1 accounts"


def test_list_errors(runner):
    assert (
        one_line_error(runner.invoke(args=["users", "list", "--unit", "NOWHERE"]))
        == "Error: unknown unit NOWHERE"
    )
    assert (
        one_line_error(runner.invoke(args=["users", "list", "--subtree"]))
        == "Error: --subtree needs --unit"
    )


def test_show_by_alias_or_sub_in_text_and_json(app, runner, units, make_user):
    sub = make_user("an@haugiang.gov.vn", aliases=["an.nv@haugiang.gov.vn"], unit="STC-TTR")
    result = runner.invoke(args=["users", "show", "AN.NV@HauGiang.gov.vn"])
    assert result.exit_code == 0, result.output
    assert f"sub:         {sub}" in result.stdout
    assert "aliases:     an.nv@haugiang.gov.vn" in result.stdout
    assert "unit:        STC-TTR Thanh tra Sở Tài chính (HG / STC / STC-TTR)" in result.stdout
    assert "last login:  never" in result.stdout
    data = json.loads(runner.invoke(args=["users", "show", sub, "--json"]).stdout)
    assert data["email"] == "an@haugiang.gov.vn"
    assert data["unit"] == {
        "code": "STC-TTR",
        "name": "Thanh tra Sở Tài chính",
        "path": ["HG", "STC", "STC-TTR"],
    }
    assert data["has_password"] is True and data["status"] == "active"


@pytest.mark.parametrize("command", ["show", "disable", "enable", "set-password"])
def test_unknown_user_is_one_line_error(runner, command):
    extra = ["--password-stdin"] if command == "set-password" else []
    result = runner.invoke(
        args=["users", command, "nobody@haugiang.gov.vn", *extra], input=PASSWORD + "\n"
    )
    assert one_line_error(result) == "Error: no user 'nobody@haugiang.gov.vn'"


def test_disable_and_enable_are_idempotent_and_audited(app, client, auth, runner, make_user):
    sub = make_user("nguyen.van.an@haugiang.gov.vn")
    assert auth.login().status_code == 302
    assert client.get("/account/").status_code == 200
    result = runner.invoke(args=["users", "disable", "nguyen.van.an@haugiang.gov.vn"])
    assert (result.exit_code, result.stdout) == (0, "Disabled nguyen.van.an@haugiang.gov.vn.\n")
    # The browser that was signed in is signed out.
    assert client.get("/account/").status_code != 200
    again = runner.invoke(args=["users", "disable", sub])
    assert again.stdout == "nguyen.van.an@haugiang.gov.vn was already disabled.\n"
    assert auth.login().status_code == 401
    assert (
        runner.invoke(args=["users", "enable", sub]).stdout
        == "Enabled nguyen.van.an@haugiang.gov.vn.\n"
    )
    assert (
        runner.invoke(args=["users", "enable", sub]).stdout
        == "nguyen.van.an@haugiang.gov.vn was already active.\n"
    )
    assert auth.login().status_code == 302
    with app.app_context():
        actions = [
            e.action for e in db.session.query(AuditEvent).filter(AuditEvent.action.like("user.%"))
        ]
    assert actions == ["user.disable", "user.enable"]


def test_set_password(app, runner, make_user):
    make_user("an@haugiang.gov.vn", password=None)
    result = runner.invoke(
        args=["users", "set-password", "an@haugiang.gov.vn", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert (result.exit_code, result.stdout) == (0, "Password of an@haugiang.gov.vn set.\n")
    with app.test_request_context():
        assert verify_password(find_user_by_address("an@haugiang.gov.vn").password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ([], PASSWORD, "Error: give the password on standard input with --password-stdin"),
        (["--password-stdin"], "", "Error: no password given on standard input"),
        (
            ["--password-stdin"],
            "password\n",
            "Error: password rejected: Mật khẩu phải có ít nhất 10 ký tự. "
            "Mật khẩu này quá phổ biến, dễ bị đoán. Hãy chọn mật khẩu khác.",
        ),
    ],
)
def test_set_password_errors_keep_the_old_password(app, runner, make_user, args, stdin, message):
    make_user("an@haugiang.gov.vn", password=PASSWORD)
    result = runner.invoke(args=["users", "set-password", "an@haugiang.gov.vn", *args], input=stdin)
    assert one_line_error(result) == message
    with app.test_request_context():
        assert verify_password(find_user_by_address("an@haugiang.gov.vn").password_hash, PASSWORD)


def test_lists_have_column_headers_on_a_terminal_only(app, runner, units, make_user):
    from helpers.cli import run_on_terminal

    make_user("c@haugiang.gov.vn", unit="SNV", given_name="C", roles=["admin"])
    for args, header in (
        (["users", "list"], ("EMAIL", "NAME", "UNIT", "STATUS", "ROLES")),
        (["admins", "list"], ("EMAIL", "NAME", "STATUS", "ADMINISTERS")),
    ):
        lines = run_on_terminal(args, app.config["DATABASE_URL"]).splitlines()
        assert lines[0].split() == list(header)
        assert lines[1].startswith("c@haugiang.gov.vn ")
        # The header starts each column where the rows do.
        assert lines[0].index(header[1]) == lines[1].index("Nguyễn")
        piped = runner.invoke(args=args)
        assert piped.exit_code == 0 and piped.stdout.startswith("c@haugiang.gov.vn ")


def test_show_writes_dates_as_vietnamese_offices_do(app, runner, make_user):
    import re
    from datetime import datetime

    sub = make_user("an@haugiang.gov.vn")
    created = re.search(
        r"^created:\s+(.+)$", runner.invoke(args=["users", "show", sub]).stdout, re.M
    )
    # dd/MM/yyyy HH:mm in Asia/Ho_Chi_Minh, like the pages; JSON keeps ISO 8601.
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", created.group(1))
    data = json.loads(runner.invoke(args=["users", "show", sub, "--json"]).stdout)
    stored = datetime.fromisoformat(data["created_at"])
    from zoneinfo import ZoneInfo

    local = stored.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert created.group(1) == local.strftime("%d/%m/%Y %H:%M")
