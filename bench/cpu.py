"""Where the machine's CPU went during a scenario: the server, wrk, the database, others.

Read from /proc (Linux): the machine's busy time from /proc/stat, each process's user and
system time from /proc/<pid>/stat. "Others" is what neither the server (with its workers),
nor wrk, nor the database's processes serving the benchmark used: other work on the
machine that the figures of that scenario shared the cores with.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICKS


def _process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used so far)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces.
        rest = raw[raw.rindex(")") + 2 :].split()
        ppid, utime, stime = int(rest[1]), int(rest[11]), int(rest[12])
        table[int(entry.name)] = (ppid, (utime + stime) / TICKS)
    return table


def tree_seconds(table: dict[int, tuple[int, float]], roots: set[int]) -> float:
    """CPU seconds of the given processes and all their descendants."""
    members = set(roots) & set(table)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _cpu) in table.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    return sum(table[pid][1] for pid in members)


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Snapshot:
    busy: float
    server: float
    database: float
    children: float


@dataclass
class Usage:
    """Shares of the machine's capacity (all cores) during the scenario, in percent."""

    server: float
    wrk: float
    database: float
    others: float


class CpuMeter:
    def __init__(
        self, server_pid: int, database_pids: Callable[[], set[int]] | None = None
    ) -> None:
        self.server_pid = server_pid
        self.database_pids = database_pids or (lambda: set())

    def snapshot(self) -> Snapshot:
        table = _process_table()
        return Snapshot(
            busy=machine_busy_seconds(),
            server=tree_seconds(table, {self.server_pid}),
            database=sum(table[p][1] for p in self.database_pids() if p in table),
            children=children_seconds(),
        )

    @staticmethod
    def usage(before: Snapshot, after: Snapshot, elapsed: float) -> Usage:
        capacity = elapsed * (os.cpu_count() or 1) / 100
        server = after.server - before.server
        wrk = after.children - before.children
        database = after.database - before.database
        others = max(0.0, (after.busy - before.busy) - server - wrk - database)
        return Usage(
            server=round(server / capacity, 1),
            wrk=round(wrk / capacity, 1),
            database=round(database / capacity, 1),
            others=round(others / capacity, 1),
        )
