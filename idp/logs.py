"""Logging: one JSON object per line (or plain text when LOG_FORMAT=text), on standard error.

Standard output is the commands' own (`idp demo seed`, `idp clients apply`, ...). When
standard error is a terminal, a person is reading both: only records from
LOG_LEVEL_TERMINAL up (warnings and errors) are written there, so audit lines do not bury
the output. Redirected, piped or under a service manager, LOG_LEVEL applies.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from flask import Flask

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced by something without a file, or closed
        return False


def init_app(app: Flask) -> None:
    """The `idp` logger (also app.logger) writes to standard error through its one handler.

    Its records also propagate to the root logger, like every library's. The provider puts
    no handler there (only Alembic's env.py does, for `idp db upgrade`), so each record is
    written once; whoever adds one there, like pytest's caplog, gets the records too.
    """
    handler = logging.StreamHandler(sys.stderr)
    if is_terminal(sys.stderr):
        handler.setLevel(app.config["LOG_LEVEL_TERMINAL"])
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("idp")
    logger.handlers[:] = [handler]
    logger.setLevel(app.config["LOG_LEVEL"])
    logger.propagate = True
    app.logger.handlers[:] = [handler]
