"""SQLite writers queue on a file lock (idp.sqlite_writers) and SQLite's locking still holds."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from idp.sqlite_writers import LOCK_SUFFIX, QueuedWritersConnection, is_write, lock_path


def connect(path: Path, timeout: float = 10) -> QueuedWritersConnection:
    conn = sqlite3.connect(
        str(path), timeout=timeout, check_same_thread=False, factory=QueuedWritersConnection
    )
    return conn  # type: ignore[return-value]


@pytest.fixture
def database(tmp_path) -> Path:
    path = tmp_path / "w.sqlite3"
    conn = connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.commit()
    conn.close()
    return path


def count(path: Path) -> int:
    with sqlite3.connect(str(path)) as conn:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]


def test_a_second_writer_waits_for_the_first_to_commit(database):
    first, second = connect(database), connect(database)
    first.execute("INSERT INTO t VALUES (1)")
    assert first._holding
    finished = threading.Event()

    def write() -> None:
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()
        finished.set()

    thread = threading.Thread(target=write)
    thread.start()
    assert not finished.wait(0.3), "the second writer did not wait"
    assert not second._holding
    first.commit()
    assert not first._holding
    assert finished.wait(5)
    thread.join()
    assert count(database) == 2
    first.close()
    second.close()


def test_rollback_close_and_autocommit_give_the_lock_back(database):
    conn, other = connect(database), connect(database, timeout=1)
    conn.execute("INSERT INTO t VALUES (1)")
    conn.rollback()
    assert not conn._holding
    conn.execute("UPDATE t SET x = 2")
    conn.close()
    other.execute("INSERT INTO t VALUES (3)")  # would wait a second if the lock were kept
    other.commit()
    auto = connect(database)
    auto.isolation_level = None
    auto.execute("INSERT INTO t VALUES (4)")
    assert not auto._holding
    auto.close()
    other.close()
    assert count(database) == 2


def test_reads_take_no_lock(database):
    writer, reader = connect(database), connect(database, timeout=0.2)
    writer.execute("INSERT INTO t VALUES (1)")
    started = time.monotonic()
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert not reader._holding
    assert time.monotonic() - started < 0.2
    writer.commit()
    writer.close()
    reader.close()


def test_a_lock_held_too_long_hands_over_to_sqlite(database):
    holder, waiter = connect(database), connect(database, timeout=0.2)
    holder.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        waiter.execute("INSERT INTO t VALUES (2)")
    assert not waiter._holding
    holder.commit()
    waiter.rollback()
    waiter.execute("INSERT INTO t VALUES (3)")
    waiter.commit()
    holder.close()
    waiter.close()
    assert count(database) == 2


def test_writers_in_two_processes_queue(database):
    """Another process holds a write transaction for a while; this one waits, then writes."""
    script = (
        "import sqlite3, sys, time\n"
        "from idp.sqlite_writers import QueuedWritersConnection\n"
        "c = sqlite3.connect(sys.argv[1], timeout=10, factory=QueuedWritersConnection)\n"
        "c.execute('INSERT INTO t VALUES (1)')\n"
        "print('holding', flush=True)\n"
        "time.sleep(0.5)\n"
        "c.commit()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "holding"
        conn = connect(database)
        conn.execute("INSERT INTO t VALUES (2)")
        conn.commit()
        conn.close()
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait()
    assert count(database) == 2


def test_what_counts_as_a_write_and_where_the_lock_lives(tmp_path):
    assert all(is_write(s) for s in ("INSERT INTO t", "  update t set", "DELETE FROM t"))
    assert not any(is_write(s) for s in ("SELECT 1", "PRAGMA journal_mode", None, b"INSERT"))
    assert lock_path(str(tmp_path / "a.db")) == str(tmp_path / "a.db") + LOCK_SUFFIX
    assert lock_path(":memory:") is None and lock_path("file:a.db?mode=ro") is None
    memory = sqlite3.connect(":memory:", factory=QueuedWritersConnection)
    memory.execute("CREATE TABLE t (x)")
    memory.execute("INSERT INTO t VALUES (1)")
    memory.commit()
    memory.close()


def test_the_app_uses_it_with_its_pragmas(sqlite_app):
    import sqlalchemy as sa

    from idp.extensions import db

    with sqlite_app.app_context():
        conn = db.session.connection()
        assert isinstance(conn.connection.dbapi_connection, QueuedWritersConnection)
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        db.session.remove()
