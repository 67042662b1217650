"""Logs are one JSON object per line, and secrets never reach them."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

import pytest
from helpers.people import PASSWORD

from idp.logs import JsonFormatter


def _record(msg="xin chào %s", args=("Hậu Giang",), exc_info=None, **extra):
    record = logging.LogRecord("idp.test", logging.WARNING, __file__, 10, msg, args, exc_info)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_formatter_writes_one_object_per_line():
    line = JsonFormatter().format(_record(event="login", actor="abc", detail={"n": 1}))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "idp.test"
    assert entry["msg"] == "xin chào Hậu Giang"  # diacritics kept, not \\u-escaped
    assert "Hậu Giang" in line
    assert entry["event"] == "login" and entry["actor"] == "abc" and entry["detail"] == {"n": 1}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["ts"])


def test_exceptions_and_odd_values_stay_on_one_line():
    try:
        raise ValueError("dòng 1\ndòng 2")
    except ValueError:
        exc_info = sys.exc_info()
    line = JsonFormatter().format(_record("lỗi\nnhiều dòng", (), exc_info=exc_info, obj=object()))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["msg"] == "lỗi\nnhiều dòng"
    assert "ValueError: dòng 1" in entry["exc"]
    assert entry["obj"].startswith("<object object")


@pytest.fixture
def app_config():
    return {"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}


@pytest.fixture
def captured_logs(app):
    """Everything the app logs: its own stderr handler redirected, plus every other logger."""
    handler = logging.getLogger("idp").handlers[0]
    assert isinstance(handler.formatter, JsonFormatter)
    stream = io.StringIO()
    original = handler.setStream(stream)
    everything = logging.StreamHandler(stream)
    everything.setFormatter(JsonFormatter())
    root, sql = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    old_levels = root.level, sql.level
    root.addHandler(everything)
    root.setLevel(logging.DEBUG)
    sql.setLevel(logging.INFO)  # SQL statements and their parameters too
    yield stream
    root.removeHandler(everything)
    root.setLevel(old_levels[0])
    sql.setLevel(old_levels[1])
    handler.setStream(original)


def test_sign_in_logs_json_lines_without_the_password(app, client, auth, make_user, captured_logs):
    make_user()
    app.config["ARGON2_TIME_COST"] = 2  # the stored hash gets upgraded on this sign-in
    auth.login(password="sai-" + PASSWORD)
    auth.login(email="nobody@haugiang.gov.vn", password=PASSWORD)
    auth.login(email="", password=PASSWORD)
    signed_in = auth.login()
    assert signed_in.status_code == 302
    handle = client.get_cookie("idp_sso").value
    client.get("/account/")
    auth.logout()

    lines = captured_logs.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    audit = [e for e in entries if e.get("logger") == "idp.audit"]
    assert [(e["event"], e["outcome"]) for e in audit] == [
        ("login", "failure"),
        ("login", "failure"),
        ("login", "success"),
        ("logout", "success"),
    ]
    assert any(e["logger"].startswith("sqlalchemy.engine") for e in entries)
    text = captured_logs.getvalue()
    assert PASSWORD not in text
    assert json.dumps(PASSWORD)[1:-1] not in text
    assert handle not in text
