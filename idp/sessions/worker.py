"""`idp worker`: delivers the back-channel logout outbox until told to stop.

Each round claims up to `concurrency` due rows, sends them in parallel (one thread per
relying party call, each bounded by LOGOUT_TIMEOUT_SECONDS) and stores the outcomes.
When nothing is due it sleeps WORKER_POLL_SECONDS. Any number of workers may run
against one database (idp.sessions.outbox explains the claim). SIGTERM and SIGINT end
the loop after the round in progress; nothing is lost either way, since a row is only
marked when its outcome is known.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app

from idp.extensions import utcnow
from idp.sessions import delivery, outbox

log = logging.getLogger("idp.sessions.worker")

# Finished rows older than LOGOUT_DELIVERY_KEEP_SECONDS are removed this often.
CLEANUP_INTERVAL_SECONDS = 600


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
    outbox.commit()
    return removed


def run(
    *,
    concurrency: int = 8,
    once: bool = False,
    stop: threading.Event | None = None,
    poll_seconds: float | None = None,
    now: datetime | None = None,
) -> WorkerStats:
    """The delivery loop, in the current app context.

    `once`: deliver what is due now, then return (for cron and tests); rows that fail are
    rescheduled for later and not retried in the same run. `now` (tests) fixes the clock
    that decides what is due.
    """
    stop = stop or threading.Event()
    poll = poll_seconds if poll_seconds is not None else current_app.config["WORKER_POLL_SECONDS"]
    stats = WorkerStats()
    started = now or utcnow()
    last_cleanup = 0.0
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="logout-worker") as pool:
        while not stop.is_set():
            clock = started if once else now
            try:
                statuses = delivery.deliver_due(limit=concurrency, pool=pool, now=clock)
            except Exception:  # a database hiccup must not end the worker
                log.exception("delivery round failed; trying again after a pause")
                outbox.rollback()
                stop.wait(poll)
                continue
            stats.add(statuses)
            if time.monotonic() - last_cleanup > CLEANUP_INTERVAL_SECONDS:
                last_cleanup = time.monotonic()
                removed = cleanup()
                if removed:
                    log.info("removed %d finished logout deliveries", removed)
            if not statuses:
                # Another worker may have taken what this one was about to claim.
                if once and not outbox.has_due(clock or utcnow()):
                    break
                if not once:
                    stop.wait(poll)
    return stats
