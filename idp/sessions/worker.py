"""`idp worker`: delivers the back-channel logout outbox until told to stop, and runs the
periodic jobs other packages register (`add_periodic`; the protocol's: refreshing client
keys at their jwks_uri) on a thread of their own.

Up to `concurrency` relying-party calls are in flight (each bounded by
LOGOUT_TIMEOUT_SECONDS); as each finishes its outcome is stored and the next due row is
claimed. When nothing is due it sleeps WORKER_POLL_SECONDS. Any number of workers may run
against one database (idp.sessions.outbox explains the claim). SIGTERM and SIGINT end
the loop after the round in progress; nothing is lost either way, since a row is only
marked when its outcome is known.

Right after a sign-out, a web process delivers the notices its request queued itself, off
the request thread (`start_soon`); `idp sessions revoke` does the same (`deliver_ids`).
This module owns the transactions of that work, like a view owns a request's: a claim is
committed before the calls, the outcomes after them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context, has_request_context

from idp.extensions import commit, rollback, utcnow
from idp.sessions import delivery, outbox

log = logging.getLogger("idp.sessions.worker")

# Finished rows older than LOGOUT_DELIVERY_KEEP_SECONDS are removed this often.
CLEANUP_INTERVAL_SECONDS = 600
# Outcomes are written together, at most this long after the first of them came in.
FLUSH_SECONDS = 0.05
# On stop, how long the worker waits for a periodic job in progress.
PERIODIC_JOIN_SECONDS = 10


@dataclass(frozen=True)
class Periodic:
    name: str
    every_seconds: float
    job: Callable[[], object]


_PERIODIC_KEY = "idp.worker.periodic"


def add_periodic(app: Flask, name: str, every_seconds: float, job: Callable[[], object]) -> None:
    """Have `idp worker` call `job()` (in an app context) every `every_seconds`: how a
    higher package (idp.oidc) gets work done outside requests without this one knowing it."""
    app.extensions.setdefault(_PERIODIC_KEY, []).append(Periodic(name, every_seconds, job))


def _run_periodic(app: Flask, job: Periodic) -> None:
    with app.app_context():
        try:
            job.job()
        except Exception:  # the next round tries again
            log.exception("periodic job %r failed", job.name)


def _periodic_loop(app: Flask, jobs: list[Periodic], stop: threading.Event) -> None:
    due = dict.fromkeys(range(len(jobs)), 0.0)
    while not stop.is_set():
        for index, job in enumerate(jobs):
            if time.monotonic() >= due[index]:
                _run_periodic(app, job)
                due[index] = time.monotonic() + job.every_seconds
        stop.wait(max(min(due.values()) - time.monotonic(), 0.05))


@dataclass
class WorkerStats:
    rounds: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def attempts(self) -> int:
        return sum(self.statuses.values())

    def add(self, statuses: list[str]) -> None:
        self.rounds += 1
        for status in statuses:
            self.statuses[status] = self.statuses.get(status, 0) + 1


def cleanup(now: datetime | None = None) -> int:
    keep = timedelta(seconds=current_app.config["LOGOUT_DELIVERY_KEEP_SECONDS"])
    removed = outbox.remove_finished(older_than=(now or utcnow()) - keep)
    commit()
    return removed


def _cleanup_quietly() -> None:
    try:
        removed = cleanup()
    except Exception:  # cleaning up can wait for the next time
        log.exception("removing finished logout deliveries failed")
        rollback()
        return
    if removed:
        log.info("removed %d finished logout deliveries", removed)


def run(
    *,
    concurrency: int = 8,
    once: bool = False,
    stop: threading.Event | None = None,
    poll_seconds: float | None = None,
    now: datetime | None = None,
) -> WorkerStats:
    """The delivery loop, in the current app context.

    Up to `concurrency` calls are in flight at any time, and a new one starts as soon as
    one ends: a relying party that answers slowly (or not at all, until the timeout) holds
    one slot, never a whole batch. Rows are claimed `concurrency` at a time and outcomes
    written together (at most FLUSH_SECONDS late), so the database sees two short
    transactions per batch rather than two per call. Claims, tokens and outcomes are
    handled on this thread; only the HTTP calls run on the pool.

    `once`: deliver what is due now, then return (for cron and tests); rows that fail are
    rescheduled for later and not retried in the same run. `now` (tests) fixes the clock
    that decides what is due.
    """
    stop = stop or threading.Event()
    poll = poll_seconds if poll_seconds is not None else current_app.config["WORKER_POLL_SECONDS"]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    periodic = _start_periodic(app, once=once, stop=stop)
    loop = _Loop(delivery.DeliverySettings.from_config(current_app.config), concurrency)
    pace = _Pace(once=once, stop=stop, poll=poll, started=now or utcnow(), fixed_now=now)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="logout-worker") as pool:
        while _round(loop, pace, pool):
            pass
    if periodic is not None:
        # A job in progress ends within its own deadlines; the thread is a daemon anyway.
        periodic.join(PERIODIC_JOIN_SECONDS)
    return loop.stats


def _start_periodic(app: Flask, *, once: bool, stop: threading.Event) -> threading.Thread | None:
    """Run the periodic jobs once now (`once`), or start their thread; None if no thread."""
    jobs: list[Periodic] = list(app.extensions.get(_PERIODIC_KEY, []))
    if once:
        for job in jobs:
            _run_periodic(app, job)
        return None
    if not jobs:
        return None
    periodic = threading.Thread(
        target=_periodic_loop, args=(app, jobs, stop), name="worker-periodic", daemon=True
    )
    periodic.start()
    return periodic


@dataclass
class _Pace:
    """When the loop cleans up and looks for due rows, and the clock that decides what is due."""

    once: bool
    stop: threading.Event
    poll: float
    started: datetime
    fixed_now: datetime | None
    next_look: float = 0.0  # when to look for due rows again (monotonic clock)
    last_cleanup: float = 0.0

    def clock(self) -> datetime:
        return self.started if self.once else (self.fixed_now or utcnow())

    def cleanup_if_due(self) -> None:
        if time.monotonic() - self.last_cleanup > CLEANUP_INTERVAL_SECONDS:
            self.last_cleanup = time.monotonic()
            _cleanup_quietly()

    def may_look(self, loop: _Loop) -> bool:
        """A free slot, no claimed row waiting for one, and no stop asked for."""
        return not loop.waiting and loop.has_room and not self.stop.is_set()


def _round(loop: _Loop, pace: _Pace, pool: ThreadPoolExecutor) -> bool:
    """One turn: clean up, claim, start calls, then wait and write outcomes. False: stop."""
    pace.cleanup_if_due()
    clock = pace.clock()
    if pace.may_look(loop) and time.monotonic() >= pace.next_look:
        claimed = loop.claim(clock)
        if claimed < loop.concurrency:
            # The queue is drained for now: look again after a poll interval.
            pace.next_look = math.inf if pace.once else time.monotonic() + pace.poll
    loop.start_calls(pool)
    if loop.idle:
        return _idle(loop, pace, clock)
    # With a free slot and nothing claimed waiting, also wake up to look for rows.
    loop.collect(pace.next_look if pace.may_look(loop) else math.inf)
    if loop.flush_due():
        loop.flush(clock)
    return True


def _idle(loop: _Loop, pace: _Pace, clock: datetime) -> bool:
    """Nothing waiting or in flight: write the outcomes, then stop, look again or sleep."""
    loop.flush(clock)
    if pace.stop.is_set():
        return False
    if pace.once:
        # Another worker may have taken what this one was about to claim.
        if not outbox.has_due(clock):
            return False
        pace.next_look = 0.0
        return True
    pace.stop.wait(max(pace.next_look - time.monotonic(), 0.0))
    return True


class _Loop:
    """The worker's state: claimed rows waiting for a slot, calls in flight, outcomes."""

    def __init__(self, settings: delivery.DeliverySettings, concurrency: int) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self.waiting: deque[delivery.Attempt] = deque()
        self.in_flight: dict[Future, delivery.Attempt] = {}
        self.finished: list[tuple[delivery.Attempt, delivery.Outcome]] = []
        self.oldest = 0.0
        self.stats = WorkerStats()

    @property
    def has_room(self) -> bool:
        return len(self.in_flight) < self.concurrency

    @property
    def idle(self) -> bool:
        return not self.in_flight and not self.waiting

    def claim(self, clock: datetime) -> int:
        # A claimed row may wait for a slot (one call at most), then its own call: its
        # lease covers two.
        try:
            rows = outbox.claim(
                now=clock, lease_seconds=self.settings.lease_seconds(2), limit=self.concurrency
            )
            commit()
            self.waiting.extend(delivery.prepare(rows, self.settings))
        except Exception:  # a database hiccup must not end the worker
            log.exception("claiming deliveries failed; trying again later")
            rollback()
            return 0
        return len(rows)

    def start_calls(self, pool: ThreadPoolExecutor) -> None:
        while self.waiting and self.has_room:
            attempt = self.waiting.popleft()
            self.in_flight[pool.submit(delivery.send, attempt, self.settings)] = attempt

    def collect(self, next_look: float) -> None:
        """Wait for calls to end: until one does, outcomes are due, or it is time to look."""
        deadline = next_look
        if self.finished:
            deadline = min(deadline, self.oldest + FLUSH_SECONDS)
        timeout = None if deadline == math.inf else max(deadline - time.monotonic(), 0.0)
        done, _ = wait(self.in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            if not self.finished:
                self.oldest = time.monotonic()
            self.finished.append((self.in_flight.pop(future), future.result()))

    def flush_due(self) -> bool:
        return bool(self.finished) and (
            len(self.finished) >= self.concurrency
            or not self.in_flight
            or time.monotonic() - self.oldest >= FLUSH_SECONDS
        )

    def flush(self, clock: datetime) -> None:
        """Write the outcomes in one transaction."""
        if not self.finished:
            return
        finished, self.finished = self.finished, []
        try:
            statuses = delivery.record(finished, self.settings, clock)
            commit()
        except Exception:  # the rows stay claimed until their lease ends, then retried
            log.exception("storing delivery outcomes failed")
            rollback()
            return
        self.stats.add(statuses)


# ---------------------------------------------------------------- delivering at once


def deliver_ids(ids: list[int], *, pool: Executor | None = None) -> list[str]:
    """Deliver these rows now if they are due and nobody else holds them."""
    settings = delivery.DeliverySettings.from_config(current_app.config)
    rows = outbox.claim(
        now=utcnow(), lease_seconds=settings.lease_seconds(len(ids)), limit=len(ids), ids=ids
    )
    commit()  # the rows are this process's now, and nobody waits on this transaction
    statuses = delivery.deliver_rows(rows, settings, pool=pool)
    commit()
    return statuses


# ---------------------------------------------------------------- right after a sign-out

# Per web process: LOGOUT_IMMEDIATE_THREADS sign-outs handled at once, each sending to its
# relying parties in parallel on the shared HTTP pool (this many calls per sign-out thread).
HTTP_CALLS_PER_THREAD = 4
_executors: dict[str, ThreadPoolExecutor] = {}
_executor_lock = threading.Lock()


def _executor(name: str, threads: int) -> ThreadPoolExecutor:
    with _executor_lock:
        if name not in _executors:
            _executors[name] = ThreadPoolExecutor(
                max_workers=max(int(threads), 1), thread_name_prefix=f"logout-{name}"
            )
        return _executors[name]


def _deliver_in_background(app: Flask, ids: list[int]) -> None:
    threads = int(app.config["LOGOUT_IMMEDIATE_THREADS"])
    pool = _executor("http", threads * HTTP_CALLS_PER_THREAD)
    try:
        with app.app_context():
            deliver_ids(ids, pool=pool)
    except Exception:  # the worker retries whatever this attempt left undone
        log.warning("immediate back-channel logout delivery failed", exc_info=True)


def start_soon(app: Flask, ids: list[int]) -> None:
    """Try to deliver these rows right away, off the request thread: one claim, the calls
    in parallel, one write of the outcomes."""
    executor = _executor("signouts", app.config["LOGOUT_IMMEDIATE_THREADS"])
    executor.submit(_deliver_in_background, app, list(ids))


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _after_commit(session: sa.orm.Session) -> None:
    """Rows queued by a request's transaction are attempted once it has committed.

    The page that ended the session never waits for relying parties: delivery runs on a
    small pool of background threads. Outside requests (commands) rows are left to the
    worker or delivered by the command itself.
    """
    ids = session.info.pop(outbox.SESSION_INFO_KEY, None)
    if not ids or not has_app_context() or not has_request_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("LOGOUT_DELIVER_IMMEDIATELY"):
        start_soon(app, ids)


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _after_rollback(session: sa.orm.Session) -> None:
    session.info.pop(outbox.SESSION_INFO_KEY, None)
