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
def written(app):
    """What the provider writes: its own standard-error handler, redirected to a string."""
    handler = logging.getLogger("idp").handlers[0]
    assert isinstance(handler.formatter, JsonFormatter)
    stream = io.StringIO()
    original = handler.setStream(stream)
    yield stream
    handler.setStream(original)


def test_records_are_written_once_and_reach_the_root_loggers_handlers(app, written):
    # A handler of our own on the root logger: caplog would not tell, since pytest also
    # attaches it to loggers that do not propagate.
    class Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    root = logging.getLogger()
    root.addHandler(keep := Keep())
    try:
        logging.getLogger("idp.test").warning("xin chào %s", "Hậu Giang")
    finally:
        root.removeHandler(keep)
    assert [r.getMessage() for r in keep.records] == ["xin chào Hậu Giang"]
    [line] = written.getvalue().splitlines()
    assert json.loads(line)["msg"] == "xin chào Hậu Giang"


def test_sign_in_logs_json_lines_without_the_password(
    app, client, auth, make_user, written, caplog
):
    caplog.set_level(logging.DEBUG)  # every logger, the provider's and the libraries'
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # SQL and its parameters too
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

    lines = written.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    audit = [e for e in entries if e.get("logger") == "idp.audit"]
    assert [(e["event"], e["outcome"]) for e in audit] == [
        ("login", "failure"),
        ("login", "failure"),
        ("login", "success"),
        ("logout", "success"),
    ]
    # caplog has the provider's records too.
    assert [(r.event, r.outcome) for r in caplog.records if r.name == "idp.audit"] == [
        (e["event"], e["outcome"]) for e in audit
    ]
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for text in (written.getvalue(), everything):
        assert PASSWORD not in text
        assert json.dumps(PASSWORD)[1:-1] not in text
        assert handle not in text
