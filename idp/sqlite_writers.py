"""SQLite writers wait their turn on a file lock instead of SQLite's sleeping busy handler.

SQLite lets one connection write at a time. A connection that finds the database locked
sleeps in its busy handler (1 ms, then 2, 5, 10 ms ...) and tries again, even when the
writer it waits for finishes a few hundred microseconds later: with two worker processes
writing at once, a fair share of the machine then sits idle. Here each connection first
takes an exclusive lock on a file next to the database before its first write of a
transaction (flock(2), one open file per connection, so threads and processes queue alike)
and drops it right after the commit or rollback. The kernel wakes the next writer at once.

SQLite's own locking stays in charge: a write this module does not recognise, or a
connection made without it (the sqlite3 shell, a migration), just meets SQLite's busy
handler as before. A writer waits for the file lock at most as long as SQLite would wait
(the `timeout` of the connection), then goes on and lets SQLite decide.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import time
from typing import Any

WRITE_KEYWORDS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
LOCK_SUFFIX = "-writers.lock"
# Between two tries for a busy file lock: short, unlike SQLite's first 1 ms sleep.
POLL_SECONDS = 0.0001


def is_write(sql: Any) -> bool:
    return isinstance(sql, str) and sql.lstrip()[:7].upper().startswith(WRITE_KEYWORDS)


def lock_path(database: Any) -> str | None:
    """The lock file of a database file; None for in-memory and URI databases."""
    name = os.fspath(database) if isinstance(database, str | os.PathLike) else None
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return name + LOCK_SUFFIX


class QueuedWritersConnection(sqlite3.Connection):
    """sqlite3.Connection (the `factory` of sqlite3.connect) with the writers' file lock."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._lock_timeout = float(kwargs.get("timeout", args[0] if args else 5.0))
        self._holding = False
        self._lock_fd: int | None = None
        path = lock_path(database)
        if path is not None:
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    # ---- the lock
    def _before_write(self) -> None:
        if self._holding or self._lock_fd is None:
            return
        deadline = None
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._lock_timeout
                elif now >= deadline:
                    return  # SQLite's own busy handling takes over
                time.sleep(POLL_SECONDS)
                continue
            self._holding = True
            return

    def _after_statement(self) -> None:
        # A statement outside a transaction (autocommit) is over as soon as it ran.
        if self._holding and not self.in_transaction:
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)  # type: ignore[arg-type]

    # ---- sqlite3.Connection
    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or QueuedWritersCursor)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().executemany(sql, *args)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._close_lock()

    def _close_lock(self) -> None:
        self._release()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __del__(self) -> None:
        if getattr(self, "_lock_fd", None) is not None:
            self._close_lock()


class QueuedWritersCursor(sqlite3.Cursor):
    connection: QueuedWritersConnection

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if is_write(sql):
            self.connection._before_write()
        try:
            return super().execute(sql, *args)
        finally:
            self.connection._after_statement()

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if is_write(sql):
            self.connection._before_write()
        try:
            return super().executemany(sql, *args)
        finally:
            self.connection._after_statement()
